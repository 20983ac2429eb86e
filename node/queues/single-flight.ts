import type { Logger } from 'pino';

/** A background job that runs once at a time; a failure is logged and the job runs again when next asked. */
export class SingleFlight {
  private running: Promise<void> | undefined;

  constructor(private readonly log: Logger, private readonly what: string) {}

  get busy(): boolean {
    return this.running !== undefined;
  }

  run(job: () => Promise<void>): void {
    this.running ??= job().catch((err: unknown) => {
      this.log.warn({ err }, `${this.what} failed; it runs again on the next tick`);
    }).finally(() => {
      this.running = undefined;
    });
  }
}
