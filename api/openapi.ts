/**
 * GET /v1/openapi.json: an OpenAPI 3.1 document generated from the router's table, so every
 * route that can be called is described (a test checks both directions).
 */
import { ERROR_CODES } from './errors.js';
import type { Route } from './router.js';

export function openApiDocument(routes: readonly Route[], version: string): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of routes) {
    const params = [...r.path.matchAll(/\{(\w+)\}/g)].map((m) => ({ name: m[1], in: 'path', required: true, schema: { type: 'string' } }));
    const query = Object.entries(r.openapi.query ?? {}).map(([name, q]) => ({
      name,
      in: 'query',
      required: false,
      description: q.description,
      schema: { type: q.type ?? 'string' },
    }));
    const responses: Record<string, unknown> = {};
    for (const [status, description] of Object.entries(r.openapi.responses)) {
      responses[status] =
        Number(status) >= 400
          ? { description, content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } }
          : { description };
    }
    paths[r.path] ??= {};
    paths[r.path]![r.method.toLowerCase()] = {
      summary: r.openapi.summary,
      ...(r.openapi.description ? { description: r.openapi.description } : {}),
      ...(params.length + query.length > 0 ? { parameters: [...params, ...query] } : {}),
      ...(r.openapi.requestBody ? { requestBody: { content: { 'application/json': { schema: r.openapi.requestBody } } } } : {}),
      responses,
      security: r.auth === 'none' ? [] : [{ bearer: [] }, { authToken: [] }, { queryToken: [] }],
      ...(r.auth === 'admin' ? { 'x-admin-only': true } : {}),
    };
  }
  const codes = Object.entries(ERROR_CODES)
    .map(([code, e]) => `- \`${code}\` (${e.status}): ${e.description}`)
    .join('\n');
  return {
    openapi: '3.1.0',
    info: {
      title: 'recgate API',
      version,
      description: `Calls, recordings, accounts and webhooks of a recgate gateway.\n\nErrors are always {"error": {"code", "message", "field"?}}. Codes:\n${codes}`,
    },
    paths,
    components: {
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer' },
        authToken: { type: 'apiKey', in: 'header', name: 'X-Auth-Token' },
        queryToken: { type: 'apiKey', in: 'query', name: 'token' },
      },
      schemas: {
        Error: {
          type: 'object',
          required: ['error'],
          properties: {
            error: {
              type: 'object',
              required: ['code', 'message'],
              properties: { code: { type: 'string', enum: Object.keys(ERROR_CODES) }, message: { type: 'string' }, field: { type: 'string' } },
            },
          },
        },
      },
    },
  };
}
