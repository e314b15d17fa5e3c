/**
 * The newest X-Consistency-Token a task write answered with: a search sent with it waits
 * until that write is indexed (read your own writes). Memory only, like the access token.
 */
let latest: string | null = null;

export function rememberConsistency(response: Response) {
  latest = response.headers.get('X-Consistency-Token') ?? latest;
}

export function consistencyHeaders(): Record<string, string> {
  return latest ? { 'X-Consistency-Token': latest } : {};
}
