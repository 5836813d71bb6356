/**
 * /v1/flows: stored call flows. A route with `"flow_id"` runs one; the flow is checked here,
 * when it is stored (the same parseFlow() as a routes file), so a call never meets a bad one.
 * A tenant sees only its own flows: anything else is 404.
 */
import { randomUUID } from 'node:crypto';
import { FLOW_ACTION_NAMES, FlowError, MAX_FLOW_ACTIONS, parseFlow } from '../calls/index.js';
import type { Gateway } from '../calls/index.js';
import { InvalidArgumentError } from '../common/index.js';
import type { FlowRow } from '../recorder/index.js';
import { ApiError } from './errors.js';
import { pageSize, scopeOf } from './scope.js';
import type { RequestContext, Router } from './router.js';

const BODY_KEYS = ['name', 'actions', 'id'];

export function registerFlowRoutes(router: Router, gateway: Gateway): void {
  const store = gateway.store;

  const ownFlow = (ctx: RequestContext): FlowRow => {
    const row = store.getFlow(ctx.params.id!);
    if (row === null || row.account_id !== scopeOf(ctx)) throw new ApiError('not_found', `no flow ${ctx.params.id}`);
    return row;
  };

  router.add({
    method: 'POST',
    path: '/v1/flows',
    auth: 'token',
    openapi: {
      summary: 'Store a call flow; a route runs it with {"action": "flow", "flow_id": "<id>"}',
      description:
        `actions is a non-empty array (at most ${MAX_FLOW_ACTIONS} actions, nested ones included) of {"action", "option"}; ` +
        `action is one of ${FLOW_ACTION_NAMES.join(', ')}. A bad flow is 400 invalid_flow whose field is the action's index path ("2", "3.cases.1.0").`,
      requestBody: {
        type: 'object',
        required: ['name', 'actions'],
        properties: {
          id: { type: 'string', description: 'optional, 1-64 of A-Z a-z 0-9 _ -; generated when absent' },
          name: { type: 'string', maxLength: 200 },
          actions: { type: 'array', minItems: 1, items: { type: 'object', required: ['action'], properties: { action: { enum: FLOW_ACTION_NAMES }, option: { type: 'object' } } } },
        },
      },
      responses: { '201': 'The flow (id, account_id, name, actions with defaults filled, tm_create)', '400': 'invalid_flow or invalid_option', '401': 'unauthorized' },
    },
    handler: (ctx) => {
      const b = (ctx.body ?? {}) as Record<string, unknown>;
      if (typeof b !== 'object' || Array.isArray(b)) throw new ApiError('invalid_option', 'the body must be {"name", "actions", "id"?}');
      for (const k of Object.keys(b)) if (!BODY_KEYS.includes(k)) throw new ApiError('invalid_option', `${k} is not a flow field (name, actions, id)`, { field: k });
      if (typeof b.name !== 'string' || b.name.trim() === '' || b.name.length > 200) {
        throw new ApiError('invalid_option', 'name must be a non-empty string of at most 200 characters', { field: 'name' });
      }
      let actions;
      try {
        actions = parseFlow(b.actions);
      } catch (err) {
        // field is the index path of the bad action ("2", "3.cases.1.0"); "actions" for the list itself.
        if (err instanceof FlowError) throw new ApiError('invalid_flow', err.message, { field: err.index === '' ? 'actions' : err.index });
        throw err;
      }
      // An id of the caller's choosing lets a route name the flow (`"flow_id"`) before it exists.
      if (b.id !== undefined && (typeof b.id !== 'string' || !/^[A-Za-z0-9_-]{1,64}$/.test(b.id))) {
        throw new ApiError('invalid_option', 'id must be 1-64 characters of A-Z, a-z, 0-9, _ and -', { field: 'id' });
      }
      const id = typeof b.id === 'string' ? b.id : randomUUID();
      if (store.getFlow(id) !== null) throw new ApiError('invalid_option', `flow ${id} exists`, { field: 'id' });
      const row: FlowRow = { id, account_id: scopeOf(ctx), name: b.name, actions, tm_create: new Date().toISOString() };
      store.insertFlow(row);
      return { status: 201, body: row };
    },
  });

  router.add({
    method: 'GET',
    path: '/v1/flows',
    auth: 'token',
    openapi: {
      summary: 'List stored flows, newest first; the page token is stable under new flows',
      query: { page_size: { description: '1..100, default 25', type: 'integer' }, page_token: { description: 'from next_page_token' } },
      responses: { '200': '{"result": [flows], "next_page_token": "..."}', '400': 'invalid_parameter', '401': 'unauthorized' },
    },
    handler: (ctx) => {
      const token = ctx.url.searchParams.get('page_token');
      let page;
      try {
        page = store.listFlows({
          account_id: scopeOf(ctx),
          page_size: pageSize(ctx.url),
          ...(token !== null && token !== '' ? { page_token: token } : {}),
        });
      } catch (err) {
        if (err instanceof InvalidArgumentError) throw new ApiError('invalid_parameter', err.message, { field: 'page_token' });
        throw err;
      }
      return { status: 200, body: { result: page.result, next_page_token: page.next_page_token } };
    },
  });

  router.add({
    method: 'GET',
    path: '/v1/flows/{id}',
    auth: 'token',
    openapi: { summary: 'A stored flow', responses: { '200': 'The flow', '404': 'not_found' } },
    handler: (ctx) => ({ status: 200, body: ownFlow(ctx) }),
  });

  router.add({
    method: 'DELETE',
    path: '/v1/flows/{id}',
    auth: 'token',
    openapi: {
      summary: 'Delete a stored flow; routes that name it reject their calls from now on',
      responses: { '200': 'The deleted flow, with deleted: true', '404': 'not_found' },
    },
    handler: (ctx) => {
      const row = ownFlow(ctx);
      store.deleteFlow(row.id);
      return { status: 200, body: { ...row, deleted: true } };
    },
  });
}
