// The few log calls the drivers make, shaped so that a pino logger fits as is.
export interface HardwareLogger {
  info(obj: Record<string, unknown>, msg: string): void;
  warn(obj: Record<string, unknown>, msg: string): void;
  error(obj: Record<string, unknown>, msg: string): void;
}

export const silentLogger: HardwareLogger = {
  info: () => {},
  warn: () => {},
  error: () => {},
};

/** An error as a log field: message and name only (never a card number: callers keep UIDs out of messages). */
export function errorField(error: unknown): { name: string; message: string } {
  if (error instanceof Error) return { name: error.name, message: error.message };
  return { name: 'Error', message: String(error) };
}
