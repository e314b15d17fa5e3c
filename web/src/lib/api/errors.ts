/** Every non-2xx answer becomes an ApiError; problem+json fields are kept typed. */

export interface FieldError {
  loc: (string | number)[];
  msg: string;
  type: string;
}

export interface Problem {
  type?: string;
  title?: string;
  status?: number;
  detail?: string;
  request_id?: string;
  errors?: FieldError[];
}

export class ApiError extends Error {
  readonly status: number;
  readonly problem: Problem;
  /** Seconds to wait, from Retry-After (429, 503). */
  readonly retryAfter: number | null;

  constructor(status: number, problem: Problem, retryAfter: number | null) {
    super(readableMessage(status, problem, retryAfter));
    this.name = 'ApiError';
    this.status = status;
    this.problem = problem;
    this.retryAfter = retryAfter;
  }
}

/** The network is unreachable (offline, DNS, connection refused). */
export class NetworkError extends Error {
  constructor(cause: unknown) {
    super('The server cannot be reached. Check your connection.', { cause });
    this.name = 'NetworkError';
  }
}

export function readableMessage(status: number, problem: Problem, retryAfter: number | null) {
  if (status === 429) {
    const wait = retryAfter ?? 1;
    return `Too many requests. Try again in ${wait} second${wait === 1 ? '' : 's'}.`;
  }
  if (problem.errors?.length) {
    return problem.errors.map((e) => `${fieldName(e.loc)}: ${e.msg}`.replace(/^: /, '')).join(' ');
  }
  return problem.detail || problem.title || `The request failed (${status}).`;
}

function fieldName(loc: (string | number)[]): string {
  const field = loc.filter((part) => part !== 'body' && typeof part === 'string').join('.');
  return field ? field.charAt(0).toUpperCase() + field.slice(1).replace(/_/g, ' ') : '';
}

export function parseRetryAfter(value: string | null): number | null {
  if (!value) return null;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, Math.ceil(seconds));
  const date = Date.parse(value);
  return Number.isNaN(date) ? null : Math.max(0, Math.ceil((date - Date.now()) / 1000));
}

export async function errorFromResponse(response: Response, body?: unknown): Promise<ApiError> {
  let problem: Problem = {};
  if (body !== undefined && typeof body === 'object' && body !== null) {
    problem = body as Problem;
  } else {
    try {
      const parsed: unknown = await response.clone().json();
      if (typeof parsed === 'object' && parsed !== null) problem = parsed as Problem;
    } catch {
      problem = {};
    }
  }
  return new ApiError(
    response.status,
    problem,
    parseRetryAfter(response.headers.get('Retry-After')),
  );
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : 'Something went wrong.';
}
