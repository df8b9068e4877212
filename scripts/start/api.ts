/** A thin admin-API caller for the demo: JSON in, JSON out, problems turned into errors. */
export class AdminApi {
  readonly #url: string;
  readonly #key: string;

  constructor(url: string, key: string) {
    this.#url = url;
    this.#key = key;
  }

  get url(): string {
    return this.#url;
  }

  async call<T = Record<string, unknown>>(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<T> {
    for (let attempt = 1; ; attempt += 1) {
      let response: Response;
      try {
        response = await fetch(`${this.#url}${path}`, {
          method,
          headers: {
            authorization: `Bearer ${this.#key}`,
            ...(body === undefined ? {} : { "content-type": "application/json" }),
            ...headers,
          },
          body: body === undefined ? undefined : JSON.stringify(body),
        });
      } catch (error) {
        // The Worker may be restarting (chaos): wait and try again.
        if (attempt < 20) {
          await new Promise((resolve) => setTimeout(resolve, 500));
          continue;
        }
        throw error;
      }
      const text = await response.text();
      if (response.status === 503 && attempt < 20) {
        await new Promise((resolve) => setTimeout(resolve, 500));
        continue;
      }
      if (response.status >= 400) {
        throw new Error(`${method} ${path} → ${response.status}: ${text.slice(0, 600)}`);
      }
      return (text === "" ? {} : JSON.parse(text)) as T;
    }
  }
}
