/**
 * An error the user can cause (bad path, bad flag, corrupt file). The CLI prints its
 * message as one line and exits with `exitCode`, never with a stack trace.
 */
export class UserError extends Error {
  constructor(message: string, readonly exitCode = 2) {
    super(message);
    this.name = 'UserError';
  }
}

export function isUserError(e: unknown): e is Error & { exitCode: number } {
  return e instanceof Error && typeof (e as { exitCode?: unknown }).exitCode === 'number';
}
