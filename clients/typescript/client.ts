// A typed client for the Salus API: openapi-fetch over the types openapi-typescript
// generated from openapi/openapi.json (schema.d.ts; `make clients` regenerates it).
import createClient, { type Client, type ClientOptions } from "openapi-fetch";

import type { paths } from "./schema";

export type { components, operations, paths } from "./schema";

/** A client whose every path, parameter, body and answer is typed by the contract. */
export type SalusClient = Client<paths>;

/** Options of {@link createSalusClient}: openapi-fetch's, plus an optional bearer token. */
export interface SalusClientOptions extends Omit<ClientOptions, "baseUrl"> {
  /** An access token: sent as `Authorization: Bearer <token>` on every request. */
  token?: string;
}

/** A typed client for the server at `baseUrl` (such as `http://127.0.0.1:8080`). */
export function createSalusClient(baseUrl: string, options: SalusClientOptions = {}): SalusClient {
  const { token, headers, ...rest } = options;
  const client = createClient<paths>({ ...rest, baseUrl, headers });
  if (token !== undefined) {
    client.use({
      onRequest({ request }) {
        request.headers.set("Authorization", `Bearer ${token}`);
        return request;
      },
    });
  }
  return client;
}
