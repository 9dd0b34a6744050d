/** A malformed or unsupported .rdpv file (or a header that cannot be written). One-line message, exit code 2. */
export class RdpvFormatError extends Error {
  readonly exitCode = 2;

  constructor(message: string) {
    super(message);
    this.name = 'RdpvFormatError';
  }
}
