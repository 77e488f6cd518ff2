// Error types of the Kubernetes discovery (cluster.md §8): bad environment and failed API calls.

/** Unusable k8s environment (node-id, PSK variables, trust file); the message explains what is wrong. */
export class K8sConfigError extends Error {
  override readonly name = 'K8sConfigError';
}

/** A failed Kubernetes API call; `status` is the HTTP status code when the API server answered (404, 503, …). */
export class K8sApiError extends Error {
  override readonly name = 'K8sApiError';

  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
  }
}

/** Turns anything thrown into an Error (for logging and rejection). */
export function asError(value: unknown): Error {
  return value instanceof Error ? value : new Error(String(value));
}
