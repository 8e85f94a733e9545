// A frontend's use of the API, type-checked (tsc --strict) against the client types that
// openapi-typescript generated from the served OpenAPI document (written to client/api.ts by
// tests/api/test_clients.py). A renamed field, a wrong body or an unchecked error fails here.
import createClient from "openapi-fetch";
import type { components, paths } from "./client/api";

type Problem = components["schemas"]["Problem"];

export async function onboard(baseUrl: string, token: string): Promise<string> {
  const api = createClient<paths>({ baseUrl, headers: { Authorization: `Bearer ${token}` } });
  const created = await api.POST("/v1/programs", {
    body: { name: "Onboarding", format: "classic" },
  });
  if (created.error) {
    const problem: Problem = created.error;
    throw new Error(`${problem.status} ${problem.title}: ${problem.detail}`);
  }
  const program: string = created.data.id;
  const opened = await api.POST("/v1/programs/{program_id}/status", {
    params: { path: { program_id: program } },
    body: { status: "enrolling" },
  });
  if (opened.error) {
    const fields: string[] = (opened.error.errors ?? []).map((e) => e.loc.join("."));
    throw new Error(`${opened.error.detail} ${fields.join(", ")}`);
  }
  const page = await api.GET("/v1/programs", { params: { query: { limit: 10 } } });
  const next = page.data?.next_cursor ?? "the last page";
  return `${program} ${page.data?.items.length ?? 0} of ${page.data?.total ?? 0}, next: ${next}`;
}

// An edit on the version read: the ETag sent back as If-Match; 412 if someone changed the
// programme meanwhile (nothing changed then: read it again).
export async function rename(
  baseUrl: string,
  token: string,
  program: string,
  name: string,
): Promise<string> {
  const api = createClient<paths>({ baseUrl, headers: { Authorization: `Bearer ${token}` } });
  const path = { program_id: program };
  const read = await api.GET("/v1/programs/{program_id}", { params: { path } });
  if (read.error) {
    throw new Error(read.error.detail);
  }
  const version: string = read.response.headers.get("ETag") ?? "*";
  const edited = await api.PATCH("/v1/programs/{program_id}", {
    params: { path, header: { "If-Match": version } },
    body: { name },
  });
  if (edited.error) {
    if (edited.response.status === 412) {
      return `changed meanwhile (${edited.error.detail}): read it again`;
    }
    throw new Error(edited.error.detail);
  }
  return edited.data.name;
}
