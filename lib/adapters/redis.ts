import { Redis } from "@upstash/redis/cloudflare";

/** Upstash Redis over its REST protocol: Upstash in production, the local gateway in dev. */
export interface RedisSettings {
  url: string;
  token: string;
}

/** Builds a REST client; stateless, so one per invocation costs nothing. */
export function openRedis(settings: RedisSettings): Redis {
  return new Redis({
    url: settings.url,
    token: settings.token,
    // A Worker must not wait forever on a slow gateway; callers decide what a miss means.
    retry: { retries: 2, backoff: (attempt) => 50 * 2 ** attempt },
  });
}

export type { Redis };
