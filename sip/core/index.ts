/** The user-agent core: dialogs, INVITE sessions (UAS and UAC), in-dialog requests. */
export { UserAgent, ALLOW } from './UserAgent.js';
export type { UserAgentOptions, UserAgentDelegate, UserAgentStats } from './UserAgent.js';
export { Session, InviteServerSession, InviteClientSession, newCallId } from './Session.js';
export type { SessionState, SessionEnd, EndReason, ReinviteAnswer, ReinviteResult, SessionEvents, OutgoingInviteOptions } from './Session.js';
export { Dialog, dialogId, contactUri, peerForUri } from './Dialog.js';
export type { DialogState } from './Dialog.js';
