/**
 * Conferences over HTTP: create, list, get (with participants), end; mute, unmute and kick a
 * participant; a call joins one; recordings of the mix (and per-participant tracks) start,
 * stop, pause and resume like a call's.
 */
import { InvalidArgumentError, InvalidStateError, NoSpaceError } from '../common/index.js';
import { ConferenceFullError } from '../calls/index.js';
import type { Conference, Gateway } from '../calls/index.js';
import type { ConferenceRow, ConferenceStatus, RecordingSpec } from '../recorder/index.js';
import { ApiError } from './errors.js';
import { pageSize, recordingIdOf, recordingSpecOf, scopeOf } from './scope.js';
import type { RequestContext, Router } from './router.js';

const RECORDING_BODY = {
  type: 'object',
  properties: {
    format: { enum: ['wav', 'mp3', 'opus'] },
    sample_rate: { enum: [8000, 16000, 48000] },
    tracks: { type: 'boolean', description: 'one file per participant beside the mix, listed in the recording\'s tracks' },
    bitrate: { type: 'integer' },
    time_limit: { type: 'number' },
    record_min_sec: { type: 'number' },
    pause_behavior: { enum: ['skip', 'silence'] },
    label: { type: 'string' },
    callback_url: { type: 'string' },
    upload_url: { type: 'string' },
  },
} as const;

/** Conference recording options: a call's, always mono of everyone (tracks give the parts). */
function specOf(body: unknown, where = ''): RecordingSpec {
  const spec = recordingSpecOf(body, where);
  const field = (k: string): string => (where ? `${where}.${k}` : k);
  if (spec.channels === 'stereo') throw new ApiError('invalid_option', `${field('channels')} must be mono for a conference (tracks: true gives one file per participant)`, { field: field('channels') });
  if (spec.participant !== 'all') throw new ApiError('invalid_option', `${field('participant')} must be all for a conference`, { field: field('participant') });
  return spec;
}

export function registerConferenceRoutes(router: Router, gateway: Gateway): void {
  const store = gateway.store;
  const recordings = gateway.recordings;
  const manager = gateway.conferences;

  const json = (row: ConferenceRow): Record<string, unknown> => {
    const live = manager.get(row.id);
    return {
      ...row,
      participants: row.participants.map((p) => ({ ...p, present: live?.participants.has(p.call_id) ?? false })),
      recording_ids: live?.activeRecordingIds() ?? [],
    };
  };
  const own = (ctx: RequestContext): ConferenceRow => {
    const live = manager.get(ctx.params.id!);
    const row = live?.toRow() ?? store.getConference(ctx.params.id!);
    if (row === null || row.account_id !== scopeOf(ctx)) throw new ApiError('not_found', `no conference ${ctx.params.id}`);
    return row;
  };
  const ownLive = (ctx: RequestContext): Conference => {
    const row = own(ctx);
    const live = manager.get(row.id);
    if (live === undefined || !live.active) throw new ApiError('conference_ended', `conference ${row.id} has ended`);
    return live;
  };
  const recordingOf = (c: Conference, body: unknown): string | undefined => {
    const id = recordingIdOf(body);
    if (id !== undefined && !c.owns(id)) throw new ApiError('not_found', `no recording ${id} in conference ${c.id}`);
    return id;
  };
  const state = (err: unknown): never => {
    if (err instanceof ConferenceFullError) throw new ApiError('conference_full', err.message);
    if (err instanceof NoSpaceError) throw new ApiError('insufficient_storage', err.message, { headers: { 'retry-after': '60' } });
    if (err instanceof InvalidStateError) throw new ApiError('recording_not_active', err.message);
    throw err;
  };

  router.add({
    method: 'POST',
    path: '/v1/conferences',
    auth: 'token',
    openapi: {
      summary: 'Create a conference; participants join by route ({"action": "conference"}), flow or POST /v1/calls/{id}/conference_join',
      requestBody: {
        type: 'object',
        properties: { name: { type: 'string' }, max_participants: { type: 'integer' }, recording: { ...RECORDING_BODY, description: 'auto-record from the first join' } },
      },
      responses: { '201': 'The conference', '400': 'invalid_option', '409': 'conference_exists' },
    },
    handler: (ctx) => {
      const b = (ctx.body ?? {}) as Record<string, unknown>;
      if (typeof b.name !== 'string' || b.name === '' || b.name.length > 128) throw new ApiError('invalid_option', 'name must be a string of 1..128 characters', { field: 'name' });
      const max = b.max_participants;
      if (max !== undefined && (!Number.isInteger(max) || (max as number) < 1 || (max as number) > 500)) {
        throw new ApiError('invalid_option', 'max_participants must be an integer 1..500', { field: 'max_participants' });
      }
      const recording = b.recording === undefined || b.recording === null || b.recording === false ? null : specOf(b.recording, 'recording');
      const account = scopeOf(ctx);
      if (manager.find(account, b.name) !== undefined) throw new ApiError('conference_exists', `an active conference named "${b.name}" exists`);
      try {
        const c = manager.create({ account, name: b.name, ...(max !== undefined ? { maxParticipants: max as number } : {}), recording });
        return { status: 201, body: json(c.toRow()) };
      } catch (err) {
        if (err instanceof InvalidArgumentError) throw new ApiError('invalid_option', err.message);
        throw err;
      }
    },
  });

  router.add({
    method: 'GET',
    path: '/v1/conferences',
    auth: 'token',
    openapi: {
      summary: 'List conferences, newest first',
      query: { page_size: { description: '1..100, default 25', type: 'integer' }, page_token: { description: 'from next_page_token' }, status: { description: 'active or ended' } },
      responses: { '200': '{"result": [conferences], "next_page_token"}', '400': 'invalid_parameter' },
    },
    handler: (ctx) => {
      const status = ctx.url.searchParams.get('status');
      if (status !== null && status !== 'active' && status !== 'ended') throw new ApiError('invalid_parameter', 'status must be active or ended', { field: 'status' });
      const token = ctx.url.searchParams.get('page_token');
      let page;
      try {
        page = store.listConferences({
          account_id: scopeOf(ctx),
          page_size: pageSize(ctx.url),
          ...(status !== null ? { status: status as ConferenceStatus } : {}),
          ...(token !== null ? { page_token: token } : {}),
        });
      } catch (err) {
        if (err instanceof InvalidArgumentError) throw new ApiError('invalid_parameter', err.message, { field: 'page_token' });
        throw err;
      }
      return { status: 200, body: { result: page.result.map((r) => json(manager.get(r.id)?.toRow() ?? r)), next_page_token: page.next_page_token } };
    },
  });

  router.add({
    method: 'GET',
    path: '/v1/conferences/{id}',
    auth: 'token',
    openapi: { summary: 'A conference with its participants (present or gone) and active recordings', responses: { '200': 'The conference', '404': 'not_found' } },
    handler: (ctx) => ({ status: 200, body: json(own(ctx)) }),
  });

  router.add({
    method: 'DELETE',
    path: '/v1/conferences/{id}',
    auth: 'token',
    openapi: { summary: 'End a conference: every participant gets BYE, recordings are finalised', responses: { '200': 'The ended conference', '404': 'not_found', '409': 'conference_ended' } },
    handler: async (ctx) => {
      const c = ownLive(ctx);
      await manager.end(c, 'api');
      return { status: 200, body: json(c.toRow()) };
    },
  });

  for (const verb of ['mute', 'unmute'] as const) {
    router.add({
      method: 'POST',
      path: `/v1/conferences/{id}/participants/{call_id}/${verb}`,
      auth: 'token',
      openapi: { summary: `${verb === 'mute' ? 'Mute' : 'Unmute'} a participant (others ${verb === 'mute' ? 'stop hearing' : 'hear'} it; the mix follows)`, responses: { '200': 'The conference', '404': 'not_found', '409': 'conference_ended' } },
      handler: (ctx) => {
        const c = ownLive(ctx);
        if (!c.mute(ctx.params.call_id!, verb === 'mute')) throw new ApiError('not_found', `no participant ${ctx.params.call_id} in conference ${c.id}`);
        return { status: 200, body: json(c.toRow()) };
      },
    });
  }

  router.add({
    method: 'DELETE',
    path: '/v1/conferences/{id}/participants/{call_id}',
    auth: 'token',
    openapi: { summary: 'Kick a participant (BYE)', responses: { '200': 'The conference', '404': 'not_found', '409': 'conference_ended' } },
    handler: (ctx) => {
      const c = ownLive(ctx);
      if (!manager.kick(c, ctx.params.call_id!)) throw new ApiError('not_found', `no participant ${ctx.params.call_id} in conference ${c.id}`);
      return { status: 200, body: json(c.toRow()) };
    },
  });

  router.add({
    method: 'POST',
    path: '/v1/calls/{id}/conference_join',
    auth: 'token',
    openapi: {
      summary: 'Move an answered call into a conference (by id or name); its own recordings stop',
      requestBody: { type: 'object', properties: { conference_id: { type: 'string' }, name: { type: 'string' } } },
      responses: { '200': 'The conference', '400': 'invalid_option', '404': 'not_found', '409': 'conference_full, conference_ended, call_not_answered or call_ended' },
    },
    handler: async (ctx) => {
      const call = gateway.call(ctx.params.id!);
      if (call === null || call === undefined || call.account !== scopeOf(ctx)) {
        const row = store.getCall(ctx.params.id!);
        if (row !== null && row.account_id === scopeOf(ctx)) throw new ApiError('call_ended', `call ${row.id} has ended`);
        throw new ApiError('not_found', `no call ${ctx.params.id}`);
      }
      if (call.status !== 'progressing') throw new ApiError('call_not_answered', `call ${call.id} is ${call.status}`);
      const b = (ctx.body ?? {}) as Record<string, unknown>;
      const key = typeof b.conference_id === 'string' ? b.conference_id : typeof b.name === 'string' ? b.name : null;
      if (key === null) throw new ApiError('invalid_option', 'conference_id or name is required', { field: 'conference_id' });
      const c = manager.find(call.account, key);
      if (c === undefined) throw new ApiError('not_found', `no active conference ${key}`);
      try {
        await manager.join(call, c);
      } catch (err) {
        if (err instanceof ConferenceFullError) throw new ApiError('conference_full', err.message);
        if (err instanceof InvalidArgumentError) throw new ApiError('invalid_option', err.message);
        throw err;
      }
      return { status: 200, body: json(c.toRow()) };
    },
  });

  router.add({
    method: 'POST',
    path: '/v1/conferences/{id}/recording_start',
    auth: 'token',
    openapi: { summary: 'Record the conference mix (mono), and with tracks: true one file per participant', requestBody: RECORDING_BODY, responses: { '201': 'The mix recording (tracks listed as they open)', '400': 'invalid_option', '404': 'not_found', '409': 'conference_ended' } },
    handler: async (ctx) => {
      const c = ownLive(ctx);
      const spec = specOf(ctx.body);
      try {
        const row = await c.record(spec);
        return { status: 201, body: recordings.toPublic(store.getRecording(row.id) ?? row) };
      } catch (err) {
        return state(err);
      }
    },
  });

  router.add({
    method: 'POST',
    path: '/v1/conferences/{id}/recording_stop',
    auth: 'token',
    openapi: { summary: 'Stop one mix recording (recording_id) or all, with their tracks', requestBody: { type: 'object', properties: { recording_id: { type: 'string' } } }, responses: { '200': '{"result": [recordings]}', '404': 'not_found', '409': 'conference_ended or recording_not_active' } },
    handler: async (ctx) => {
      const c = ownLive(ctx);
      try {
        const rows = await c.stopRecordings(recordingOf(c, ctx.body), 'stopped');
        return { status: 200, body: { result: rows.map((r) => recordings.toPublic(r)) } };
      } catch (err) {
        return state(err);
      }
    },
  });

  for (const [verb, pause] of [
    ['pause', true],
    ['resume', false],
  ] as const) {
    router.add({
      method: 'POST',
      path: `/v1/conferences/{id}/recording_${verb}`,
      auth: 'token',
      openapi: { summary: `${pause ? 'Pause' : 'Resume'} one mix recording (recording_id) or all, with their tracks`, requestBody: { type: 'object', properties: { recording_id: { type: 'string' } } }, responses: { '200': '{"result": [recordings]}', '404': 'not_found', '409': 'conference_ended or recording_not_active' } },
      handler: (ctx) => {
        const c = ownLive(ctx);
        try {
          const id = recordingOf(c, ctx.body);
          const rows = pause ? c.pauseRecordings(id, 'api') : c.resumeRecordings(id, 'api');
          return { status: 200, body: { result: rows.map((r) => recordings.toPublic(r)) } };
        } catch (err) {
          return state(err);
        }
      },
    });
  }
}
