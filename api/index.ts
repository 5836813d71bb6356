/** HTTP API (JSON under /v1), /healthz and /metrics. */
export { HttpServer, API_VERSION } from './HttpServer.js';
export type { HttpServerOptions } from './HttpServer.js';
export { ApiError, ERROR_CODES } from './errors.js';
export type { ApiErrorCode } from './errors.js';
export { ensureAdmin, sha256, newToken, ADMIN_ACCOUNT, DEFAULT_ACCOUNT } from './auth.js';
export { openApiDocument } from './openapi.js';
