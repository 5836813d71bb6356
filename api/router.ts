/**
 * A small router: each route declares its method, path pattern (`/v1/calls/{id}`), whether it
 * needs a token or the admin token, and what the OpenAPI document says of it. The table is the
 * single source for dispatch and for /v1/openapi.json, so the two cannot drift apart.
 */
import type http from 'node:http';
import type { AccountRow } from '../recorder/index.js';
import { ApiError } from './errors.js';

export type Method = 'GET' | 'POST' | 'PATCH' | 'DELETE';

export interface RequestContext {
  req: http.IncomingMessage;
  res: http.ServerResponse;
  url: URL;
  params: Record<string, string>;
  /** The parsed JSON body ({} when empty). */
  body: unknown;
  /** The authenticated account (null on public routes). */
  account: AccountRow | null;
}

/** What a handler returns: a JSON reply, or 'handled' when it wrote the response itself (files). */
export type HandlerResult = { status: number; body: unknown; headers?: Record<string, string> } | 'handled';

export interface OpenApiInfo {
  summary: string;
  description?: string;
  /** Query parameters: name -> description (all strings or integers). */
  query?: Record<string, { description: string; type?: 'string' | 'integer' | 'boolean' }>;
  /** JSON body description (schema object), if any. */
  requestBody?: Record<string, unknown>;
  /** Status -> description. */
  responses: Record<string, string>;
}

export interface Route {
  method: Method;
  path: string;
  auth: 'none' | 'token' | 'admin';
  openapi: OpenApiInfo;
  handler: (ctx: RequestContext) => Promise<HandlerResult> | HandlerResult;
}

interface Compiled extends Route {
  re: RegExp;
  names: string[];
}

export class Router {
  readonly routes: Route[] = [];
  readonly #compiled: Compiled[] = [];

  add(route: Route): void {
    const names: string[] = [];
    const re = new RegExp(
      `^${route.path.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{(\w+)\}/g, (_m, name: string) => {
        names.push(name);
        return '([^/]+)';
      })}$`,
    );
    this.routes.push(route);
    this.#compiled.push({ ...route, re, names });
  }

  /** The route for a method and path; throws 404 or 405 (with Allow) when none fits. */
  match(method: string, path: string): { route: Route; params: Record<string, string> } {
    const allowed: string[] = [];
    for (const r of this.#compiled) {
      const m = r.re.exec(path);
      if (m === null) continue;
      if (r.method !== method) {
        allowed.push(r.method);
        continue;
      }
      const params: Record<string, string> = {};
      r.names.forEach((n, i) => {
        params[n] = decodeSegment(m[i + 1] ?? '', path);
      });
      return { route: r, params };
    }
    if (allowed.length > 0) {
      throw new ApiError('method_not_allowed', `${method} is not allowed on ${path}`, { headers: { allow: allowed.join(', ') } });
    }
    throw new ApiError('not_found', `no route ${method} ${path}`);
  }
}

/** A path parameter, %-decoded. A bad escape (`/v1/recordings/%`) names nothing: 404, not the URIError's 500 (found by fuzz/). */
function decodeSegment(segment: string, path: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new ApiError('not_found', `${path} holds a malformed %-escape`);
  }
}
