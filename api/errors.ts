/**
 * The API's one error shape: `{"error": {"code": "...", "message": "..."}}`, with a stable
 * code per failure (like fastify's lib/errors.js). Clients branch on `code`.
 */

export const ERROR_CODES = {
  invalid_json: { status: 400, description: 'The body is not valid JSON.' },
  invalid_option: { status: 400, description: 'A recording option or body field is invalid; `field` names it.' },
  invalid_parameter: { status: 400, description: 'A query parameter (page_size, page_token, a filter) is invalid; `field` names it.' },
  unauthorized: { status: 401, description: 'No token, or an unknown one (Authorization: Bearer, X-Auth-Token or ?token=).' },
  forbidden: { status: 403, description: 'The token is valid but this route needs the admin token.' },
  not_found: { status: 404, description: 'No such route, or no such call/recording/account for this token (other tenants\' objects are not found).' },
  method_not_allowed: { status: 405, description: 'The route exists with other methods (see the Allow header).' },
  user_exists: { status: 409, description: 'A SIP user with that username exists.' },
  call_not_answered: { status: 409, description: 'Recordings start on an answered call.' },
  call_ended: { status: 409, description: 'The call has ended.' },
  recording_not_active: { status: 409, description: 'The recording is not running (pause, resume, stop).' },
  recording_not_ready: { status: 409, description: 'The file is available once the recording has ended.' },
  recording_active: { status: 409, description: 'A running recording cannot be deleted; stop it first.' },
  conference_full: { status: 409, description: 'The conference has max_participants already.' },
  conference_ended: { status: 409, description: 'The conference has ended.' },
  conference_exists: { status: 409, description: 'An active conference of this account has that name.' },
  invalid_flow: { status: 400, description: 'A flow action or option is invalid; `field` names the action index path (e.g. "2" or "3.cases.1.0").' },
  recording_deleted: { status: 410, description: 'The recording was deleted; its record stays, its file is gone.' },
  body_too_large: { status: 413, description: 'The request body is larger than 1 MiB.' },
  range_not_satisfiable: { status: 416, description: 'The Range header does not fit the file.' },
  unsupported_media_type: { status: 415, description: 'Send JSON (Content-Type: application/json).' },
  rate_limited: { status: 429, description: 'Too many requests for this token; see Retry-After.' },
  insufficient_storage: { status: 507, description: 'The recordings disk is full or below its reserve (RECGATE_MIN_FREE_MB); retry once space returns.' },
  internal_error: { status: 500, description: 'An unexpected failure; the gateway logged it.' },
} as const;

export type ApiErrorCode = keyof typeof ERROR_CODES;

export class ApiError extends Error {
  readonly code: ApiErrorCode;
  readonly status: number;
  readonly field: string | undefined;
  readonly headers: Record<string, string>;

  constructor(code: ApiErrorCode, message: string, options: { field?: string; headers?: Record<string, string> } = {}) {
    super(message);
    this.code = code;
    this.status = ERROR_CODES[code].status;
    this.field = options.field;
    this.headers = options.headers ?? {};
  }

  body(): { error: { code: string; message: string; field?: string } } {
    return { error: { code: this.code, message: this.message, ...(this.field !== undefined ? { field: this.field } : {}) } };
  }
}
