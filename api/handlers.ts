/**
 * The /v1 routes: accounts (tenants), calls, recordings. Each route's OpenAPI description sits
 * beside its handler. A tenant only ever sees its own objects: anything else is 404.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { CallStateError } from '../calls/index.js';
import type { Gateway } from '../calls/index.js';
import { InvalidArgumentError, InvalidStateError, NoSpaceError } from '../common/index.js';
import { contentTypeOf, extensionOf } from '../encoders/index.js';
import type { AccountRow, CallRow, RecordingQuery, RecordingRow, RecordingStatus, UserRow } from '../recorder/index.js';
import { computeHa1 } from '../sip/index.js';
import { ADMIN_ACCOUNT, DEFAULT_ACCOUNT, newToken, sha256 } from './auth.js';
import { ApiError } from './errors.js';
import { pageSize, recordingIdOf, recordingSpecOf, scopeOf } from './scope.js';
import { serveFile } from './files.js';
import { registerFlowRoutes } from './flows.js';
import type { RequestContext, Router } from './router.js';

const RECORDING_STATUSES: RecordingStatus[] = ['initiating', 'recording', 'paused', 'stopping', 'ended', 'failed', 'deleted'];

function isoParam(url: URL, name: string): string | undefined {
  const v = url.searchParams.get(name);
  if (v === null) return undefined;
  const t = Date.parse(v);
  if (!Number.isFinite(t)) throw new ApiError('invalid_parameter', `${name} must be an ISO 8601 time`, { field: name });
  return new Date(t).toISOString();
}

function accountJson(a: AccountRow, withSecret: boolean): Record<string, unknown> {
  return {
    id: a.id,
    name: a.name,
    webhook_url: a.webhook_url,
    ...(withSecret ? { webhook_secret: a.webhook_secret } : {}),
    tm_create: a.tm_create,
    tm_update: a.tm_update,
  };
}

export function registerRoutes(router: Router, gateway: Gateway): void {
  const store = gateway.store;
  const recordings = gateway.recordings;

  const callJson = (row: CallRow): Record<string, unknown> => {
    const ids = store.recordingIdsOf(row.id);
    const live = gateway.call(row.id);
    const active = live?.activeRecordingIds() ?? [];
    return { ...row, recording_id: active[active.length - 1] ?? '', recording_ids: ids };
  };
  const ownCall = (ctx: RequestContext): CallRow => {
    const live = gateway.call(ctx.params.id!);
    const row = live?.toRow() ?? store.getCall(ctx.params.id!);
    if (row === null || row.account_id !== scopeOf(ctx)) throw new ApiError('not_found', `no call ${ctx.params.id}`);
    return row;
  };
  const ownRecording = (ctx: RequestContext): RecordingRow => {
    const row = store.getRecording(ctx.params.id!);
    if (row === null || row.account_id !== scopeOf(ctx)) throw new ApiError('not_found', `no recording ${ctx.params.id}`);
    return row;
  };
  const callState = (err: unknown): never => {
    if (err instanceof CallStateError) throw new ApiError(err.apiCode, err.message);
    if (err instanceof NoSpaceError) throw new ApiError('insufficient_storage', err.message, { headers: { 'retry-after': '60' } });
    if (err instanceof InvalidStateError) throw new ApiError('recording_not_active', err.message);
    throw err;
  };

  // --- accounts

  router.add({
    method: 'POST',
    path: '/v1/accounts',
    auth: 'admin',
    openapi: {
      summary: 'Create a tenant account; its API token is returned once',
      requestBody: { type: 'object', properties: { name: { type: 'string' }, webhook_url: { type: 'string' } } },
      responses: { '201': 'The account with its token and webhook secret', '400': 'invalid_option', '401': 'unauthorized', '403': 'forbidden' },
    },
    handler: (ctx) => {
      const b = (ctx.body ?? {}) as Record<string, unknown>;
      if (b.name !== undefined && (typeof b.name !== 'string' || b.name.length > 200)) throw new ApiError('invalid_option', 'name must be a string', { field: 'name' });
      const webhook = b.webhook_url;
      if (webhook !== undefined && (typeof webhook !== 'string' || !/^https?:\/\/\S+$/.test(webhook))) {
        throw new ApiError('invalid_option', 'webhook_url must be an http(s) URL', { field: 'webhook_url' });
      }
      const id = typeof b.id === 'string' && /^[a-z0-9][a-z0-9_-]{1,62}$/.test(b.id) ? b.id : randomUUID();
      if (b.id !== undefined && id !== b.id) throw new ApiError('invalid_option', 'id must be 2-63 characters of a-z, 0-9, _ and -', { field: 'id' });
      if (store.getAccount(id) !== null) throw new ApiError('invalid_option', `account ${id} exists`, { field: 'id' });
      const token = newToken();
      const now = new Date().toISOString();
      const row: AccountRow = {
        id,
        name: typeof b.name === 'string' ? b.name : id,
        token_sha256: sha256(token),
        webhook_url: typeof webhook === 'string' ? webhook : '',
        webhook_secret: randomBytes(24).toString('base64url'),
        admin: false,
        tm_create: now,
        tm_update: now,
      };
      store.createAccount(row);
      return { status: 201, body: { ...accountJson(row, true), token } };
    },
  });

  router.add({
    method: 'GET',
    path: '/v1/accounts',
    auth: 'admin',
    openapi: { summary: 'List accounts', responses: { '200': '{"result": [accounts]}', '401': 'unauthorized', '403': 'forbidden' } },
    handler: () => ({ status: 200, body: { result: store.listAccounts().filter((a) => a.id !== ADMIN_ACCOUNT).map((a) => accountJson(a, false)) } }),
  });

  const ownAccount = (ctx: RequestContext): AccountRow => {
    const id = ctx.params.id!;
    const a = store.getAccount(id);
    if (a === null || id === ADMIN_ACCOUNT || (!ctx.account!.admin && ctx.account!.id !== id)) throw new ApiError('not_found', `no account ${id}`);
    return a;
  };

  router.add({
    method: 'GET',
    path: '/v1/accounts/{id}',
    auth: 'token',
    openapi: { summary: 'An account (its own token, or the admin token)', responses: { '200': 'The account', '404': 'not_found' } },
    handler: (ctx) => ({ status: 200, body: accountJson(ownAccount(ctx), true) }),
  });

  router.add({
    method: 'PATCH',
    path: '/v1/accounts/{id}',
    auth: 'token',
    openapi: {
      summary: 'Set the account webhook URL (or name); rotate_webhook_secret makes a new signing key',
      requestBody: { type: 'object', properties: { webhook_url: { type: 'string' }, name: { type: 'string' }, rotate_webhook_secret: { type: 'boolean' } } },
      responses: { '200': 'The account', '400': 'invalid_option', '404': 'not_found' },
    },
    handler: (ctx) => {
      const a = ownAccount(ctx);
      const b = (ctx.body ?? {}) as Record<string, unknown>;
      for (const k of Object.keys(b)) {
        if (!['webhook_url', 'name', 'rotate_webhook_secret'].includes(k)) throw new ApiError('invalid_option', `${k} cannot be changed`, { field: k });
      }
      const patch: Partial<AccountRow> = { tm_update: new Date().toISOString() };
      if (b.webhook_url !== undefined) {
        if (typeof b.webhook_url !== 'string' || (b.webhook_url !== '' && !/^https?:\/\/\S+$/.test(b.webhook_url))) {
          throw new ApiError('invalid_option', 'webhook_url must be an http(s) URL or ""', { field: 'webhook_url' });
        }
        patch.webhook_url = b.webhook_url;
      }
      if (b.name !== undefined) {
        if (typeof b.name !== 'string') throw new ApiError('invalid_option', 'name must be a string', { field: 'name' });
        patch.name = b.name;
      }
      if (b.rotate_webhook_secret === true || (a.webhook_secret === '' && patch.webhook_url)) patch.webhook_secret = randomBytes(24).toString('base64url');
      return { status: 200, body: accountJson(store.updateAccount(a.id, patch)!, true) };
    },
  });

  // --- SIP users (softphones)

  const userJson = (u: UserRow): Record<string, unknown> => ({
    username: u.username,
    account_id: u.account_id,
    sip_uri: `sip:${u.username}@${gateway.config.publicAddress}`,
    realm: u.realm,
    contacts: gateway.registrar.lookup(u.username).map((b) => ({ contact: b.contact, transport: b.peer.protocol, expires_at: new Date(b.expiresAt).toISOString() })),
    tm_create: u.tm_create,
  });

  router.add({
    method: 'POST',
    path: '/v1/accounts/{id}/users',
    auth: 'token',
    openapi: {
      summary: 'Create a SIP user (a softphone registers as sip:<username>@<gateway> with this password)',
      requestBody: { type: 'object', required: ['username', 'password'], properties: { username: { type: 'string' }, password: { type: 'string', minLength: 8 } } },
      responses: { '201': 'The user (without the password)', '400': 'invalid_option', '404': 'not_found', '409': 'user_exists' },
    },
    handler: (ctx) => {
      const account = ownAccount(ctx);
      const b = (ctx.body ?? {}) as Record<string, unknown>;
      for (const k of Object.keys(b)) if (k !== 'username' && k !== 'password') throw new ApiError('invalid_option', `${k} is not a user field`, { field: k });
      if (typeof b.username !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(b.username)) {
        throw new ApiError('invalid_option', 'username must be 1-64 characters of letters, digits, ".", "_" and "-"', { field: 'username' });
      }
      if (typeof b.password !== 'string' || b.password.length < 8 || b.password.length > 256) {
        throw new ApiError('invalid_option', 'password must be 8-256 characters', { field: 'password' });
      }
      if (store.getUser(b.username) !== null) throw new ApiError('user_exists', `user ${b.username} exists`);
      const realm = gateway.registrar.realm;
      const row: UserRow = {
        username: b.username,
        account_id: account.id === ADMIN_ACCOUNT ? DEFAULT_ACCOUNT : account.id,
        realm,
        ha1_md5: computeHa1('MD5', b.username, realm, b.password),
        ha1_sha256: computeHa1('SHA-256', b.username, realm, b.password),
        tm_create: new Date().toISOString(),
      };
      store.createUser(row);
      return { status: 201, body: userJson(row) };
    },
  });

  router.add({
    method: 'GET',
    path: '/v1/accounts/{id}/users',
    auth: 'token',
    openapi: { summary: "The account's SIP users and their registered contacts", responses: { '200': '{"result": [users]}', '404': 'not_found' } },
    handler: (ctx) => ({ status: 200, body: { result: store.listUsers(ownAccount(ctx).id).map(userJson) } }),
  });

  router.add({
    method: 'DELETE',
    path: '/v1/accounts/{id}/users/{username}',
    auth: 'token',
    openapi: { summary: 'Delete a SIP user; its registrations end', responses: { '200': 'The deleted user', '404': 'not_found' } },
    handler: (ctx) => {
      const account = ownAccount(ctx);
      const u = store.getUser(ctx.params.username!);
      if (u === null || u.account_id !== account.id) throw new ApiError('not_found', `no user ${ctx.params.username}`);
      store.deleteUser(u.username);
      gateway.registrar.forget(u.username);
      return { status: 200, body: userJson(u) };
    },
  });

  // --- calls

  router.add({
    method: 'GET',
    path: '/v1/calls',
    auth: 'token',
    openapi: {
      summary: 'List calls, newest first',
      query: { page_size: { description: '1..100, default 25', type: 'integer' }, page_token: { description: 'from next_page_token' }, status: { description: 'ringing, progressing or ended' } },
      responses: { '200': '{"result": [calls], "next_page_token": "..."}', '400': 'invalid_parameter', '401': 'unauthorized' },
    },
    handler: (ctx) => {
      const status = ctx.url.searchParams.get('status');
      if (status !== null && !['ringing', 'progressing', 'ended'].includes(status)) {
        throw new ApiError('invalid_parameter', 'status must be ringing, progressing or ended', { field: 'status' });
      }
      const token = ctx.url.searchParams.get('page_token');
      const query = {
        account_id: scopeOf(ctx),
        page_size: pageSize(ctx.url),
        ...(status !== null ? { status: status as CallRow['status'] } : {}),
        ...(token !== null && token !== '' ? { page_token: token } : {}),
      };
      let page;
      try {
        page = store.listCalls(query);
      } catch (err) {
        // A page_token that is not one of ours was a 500 (found by fuzz/); the other lists said 400 already.
        if (err instanceof InvalidArgumentError) throw new ApiError('invalid_parameter', err.message, { field: 'page_token' });
        throw err;
      }
      return { status: 200, body: { result: page.result.map((r) => callJson(gateway.call(r.id)?.toRow() ?? r)), next_page_token: page.next_page_token } };
    },
  });

  router.add({
    method: 'GET',
    path: '/v1/calls/{id}',
    auth: 'token',
    openapi: { summary: 'A call with its recording_id (active) and recording_ids (all)', responses: { '200': 'The call', '404': 'not_found' } },
    handler: (ctx) => ({ status: 200, body: callJson(ownCall(ctx)) }),
  });

  router.add({
    method: 'POST',
    path: '/v1/calls/{id}/hangup',
    auth: 'token',
    openapi: { summary: 'Hang up a call (BYE, or 480/CANCEL before answer)', responses: { '200': 'The call', '404': 'not_found', '409': 'call_ended' } },
    handler: (ctx) => {
      const row = ownCall(ctx);
      if (!gateway.hangup(row.id, 'api')) throw new ApiError('call_ended', `call ${row.id} has ended`);
      return { status: 200, body: callJson(row) };
    },
  });

  router.add({
    method: 'POST',
    path: '/v1/calls/{id}/recording_start',
    auth: 'token',
    openapi: {
      summary: 'Start a recording on an answered call (several may run at once)',
      requestBody: {
        type: 'object',
        properties: {
          format: { enum: ['wav', 'mp3', 'opus'] },
          channels: { enum: ['mono', 'stereo'] },
          participant: { enum: ['all', 'caller', 'callee'] },
          sample_rate: { enum: [8000, 16000, 48000] },
          bitrate: { type: 'integer' },
          time_limit: { type: 'number' },
          record_min_sec: { type: 'number' },
          pause_behavior: { enum: ['skip', 'silence'] },
          label: { type: 'string' },
          callback_url: { type: 'string' },
          callback_method: { enum: ['GET', 'POST'] },
          upload_url: { type: 'string' },
          upload_method: { enum: ['PUT', 'POST'] },
          beep: { type: 'boolean' },
        },
      },
      responses: { '201': 'The recording', '400': 'invalid_option', '404': 'not_found', '409': 'call_not_answered or call_ended' },
    },
    handler: async (ctx) => {
      const row = ownCall(ctx);
      const spec = recordingSpecOf(ctx.body);
      try {
        const rec = await gateway.startRecording(row.id, spec);
        return { status: 201, body: recordings.toPublic(rec) };
      } catch (err) {
        return callState(err);
      }
    },
  });

  router.add({
    method: 'POST',
    path: '/v1/calls/{id}/recording_stop',
    auth: 'token',
    openapi: {
      summary: 'Stop one recording (recording_id) or all active recordings of the call; returns them final',
      requestBody: { type: 'object', properties: { recording_id: { type: 'string' } } },
      responses: { '200': '{"result": [recordings]}', '404': 'not_found', '409': 'call_ended or recording_not_active' },
    },
    handler: async (ctx) => {
      const row = ownCall(ctx);
      try {
        const rows = await gateway.stopRecording(row.id, recordingIdOf(ctx.body));
        return { status: 200, body: { result: rows.map((r) => recordings.toPublic(r)) } };
      } catch (err) {
        return callState(err);
      }
    },
  });

  for (const [verb, pause] of [
    ['pause', true],
    ['resume', false],
  ] as const) {
    router.add({
      method: 'POST',
      path: `/v1/calls/{id}/recording_${verb}`,
      auth: 'token',
      openapi: {
        summary: `${pause ? 'Pause' : 'Resume'} one recording (recording_id) or all active recordings of the call`,
        requestBody: { type: 'object', properties: { recording_id: { type: 'string' } } },
        responses: { '200': '{"result": [recordings]}', '404': 'not_found', '409': 'call_ended or recording_not_active' },
      },
      handler: (ctx) => {
        const row = ownCall(ctx);
        try {
          const rows = gateway.pauseRecording(row.id, recordingIdOf(ctx.body), pause);
          return { status: 200, body: { result: rows.map((r) => recordings.toPublic(r)) } };
        } catch (err) {
          return callState(err);
        }
      },
    });
  }

  // --- recordings

  router.add({
    method: 'GET',
    path: '/v1/recordings',
    auth: 'token',
    openapi: {
      summary: 'List recordings, newest first; the page token is stable under new recordings',
      query: {
        page_size: { description: '1..100, default 25', type: 'integer' },
        page_token: { description: 'from next_page_token' },
        call_id: { description: 'recordings of a call' },
        reference_type: { description: 'call or conference' },
        reference_id: { description: 'a call or conference id' },
        status: { description: RECORDING_STATUSES.join(', ') },
        label: { description: 'exact label' },
        since: { description: 'tm_create >= (ISO 8601)' },
        until: { description: 'tm_create < (ISO 8601)' },
      },
      responses: { '200': '{"result": [recordings], "next_page_token": "..."}', '400': 'invalid_parameter', '401': 'unauthorized' },
    },
    handler: (ctx) => {
      const u = ctx.url.searchParams;
      const q: RecordingQuery = { account_id: scopeOf(ctx), page_size: pageSize(ctx.url) };
      const status = u.get('status');
      if (status !== null) {
        if (!RECORDING_STATUSES.includes(status as RecordingStatus)) throw new ApiError('invalid_parameter', `status must be one of ${RECORDING_STATUSES.join(', ')}`, { field: 'status' });
        q.status = status as RecordingStatus;
      }
      const rt = u.get('reference_type');
      if (rt !== null) {
        if (rt !== 'call' && rt !== 'conference') throw new ApiError('invalid_parameter', 'reference_type must be call or conference', { field: 'reference_type' });
        q.reference_type = rt;
      }
      for (const k of ['call_id', 'reference_id', 'label', 'page_token'] as const) {
        const v = u.get(k);
        if (v !== null && v !== '') q[k] = v;
      }
      const since = isoParam(ctx.url, 'since');
      const until = isoParam(ctx.url, 'until');
      if (since !== undefined) q.since = since;
      if (until !== undefined) q.until = until;
      let page;
      try {
        page = store.listRecordings(q);
      } catch (err) {
        if (err instanceof InvalidArgumentError) throw new ApiError('invalid_parameter', err.message, { field: 'page_token' });
        throw err;
      }
      return { status: 200, body: { result: page.result.map((r) => recordings.toPublic(r)), next_page_token: page.next_page_token } };
    },
  });

  router.add({
    method: 'GET',
    path: '/v1/recordings/{id}',
    auth: 'token',
    openapi: { summary: 'A recording', responses: { '200': 'The recording', '404': 'not_found' } },
    handler: (ctx) => ({ status: 200, body: recordings.toPublic(ownRecording(ctx)) }),
  });

  router.add({
    method: 'GET',
    path: '/v1/recordings/{id}/file',
    auth: 'token',
    openapi: {
      summary: 'The audio (audio/wav, audio/mpeg, audio/ogg) with ETag and one byte Range; ?inline=true|false sets Content-Disposition',
      query: { inline: { description: 'true: inline (default false: attachment)', type: 'boolean' } },
      responses: {
        '200': 'The file',
        '206': 'One byte range',
        '304': 'Not modified (If-None-Match)',
        '404': 'not_found',
        '409': 'recording_not_ready',
        '410': 'recording_deleted',
        '416': 'range_not_satisfiable',
      },
    },
    handler: async (ctx) => {
      const row = ownRecording(ctx);
      if (row.status === 'deleted') throw new ApiError('recording_deleted', `recording ${row.id} was deleted ${row.tm_delete}`);
      if (row.status !== 'ended') throw new ApiError('recording_not_ready', `recording ${row.id} is ${row.status}`);
      const file = recordings.fileOf(row);
      const stat = recordings.storage.stat(row.file_path);
      if (stat === null) throw new ApiError('recording_deleted', `the file of recording ${row.id} is gone`);
      const size = stat.size;
      const inline = ctx.url.searchParams.get('inline') === 'true';
      await serveFile(ctx.req, ctx.res, {
        path: file,
        size,
        contentType: contentTypeOf(row.format),
        etag: row.checksum_sha256 || `${row.id}-${size}`,
        filename: `${row.id}.${extensionOf(row.format)}`,
        inline,
      });
      return 'handled' as const;
    },
  });

  router.add({
    method: 'DELETE',
    path: '/v1/recordings/{id}',
    auth: 'token',
    openapi: { summary: 'Delete the file; the record stays with status deleted and tm_delete', responses: { '200': 'The recording', '404': 'not_found', '409': 'recording_active' } },
    handler: (ctx) => {
      const row = ownRecording(ctx);
      try {
        return { status: 200, body: recordings.toPublic(recordings.delete(row.id)) };
      } catch (err) {
        if (err instanceof InvalidStateError) throw new ApiError('recording_active', err.message);
        throw err;
      }
    },
  });

  registerFlowRoutes(router, gateway);
}
