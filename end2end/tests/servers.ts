// The servers the Playwright config starts (serve.sh), one port each.
const base = Number(process.env.E2E_PORT ?? 3100);

export const ports = {
  /** ACCESS_TTL=3s, everything else default (idle 30 min, grace 10 s). */
  main: base,
  /** ACCESS_TTL=4s IDLE_TTL=24s: the idle end within a test (warning lead 8 s). */
  idle: base + 1,
  /** ACCESS_TTL=4s REFRESH_GRACE=8s ABSOLUTE_TTL_SHORT=16s: grace and absolute end. */
  edge: base + 2,
};

export const url = (port: number) => `http://127.0.0.1:${port}`;
