/** Fixed loopback ports of the `npm run dev` stack; tests use free ports, so both can run at once. */
export const DEV_PORTS = {
  postgres: 55432,
  "neon-proxy": 55433,
  clickhouse: 58123,
  redis: 58079,
  stripe: 12111,
  qstash: 58078,
} as const;

export const DEV_WORKER_PORT = 8787;
