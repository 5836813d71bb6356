/** RFC 3261 §17 transactions with every timer, on an injectable clock. */
export { TransactionLayer, ServerTransaction, ClientTransaction, serverKey, clientKey, ackForNon2xx } from './transactions.js';
export type {
  TransactionState,
  TransactionUser,
  TransactionContext,
  TransactionLayerOptions,
  TransactionLayerStats,
  ServerTransactionEvents,
  ClientTransactionEvents,
} from './transactions.js';
export { T1, T2, T4, DEFAULT_TIMERS, nodeTimers, FakeTimers } from './timers.js';
export type { SipTimerValues, TimerApi, TimerHandle } from './timers.js';
