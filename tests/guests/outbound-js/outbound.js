// Outbound `fetch` from a JavaScript object (class OutboundProbe) and worker (the default
// export), for tests/integration/outbound_js.rs. Both take a POSTed JSON plan
// `{url, method?, headers?, body?, bodyKind?, redirect?}` (bodyKind: "string" (default),
// "bytes", "buffer", "params", "json", or "request" to pass a Request rather than a URL),
// fetch it, and answer `{status, statusText, ok, url, headers, text}`, or 502 with
// `{name, error, refused}` if the fetch rejected.

import { DurableObject } from "@wdo/sdk";

function bodyOf(plan) {
  if (plan.body === undefined || plan.body === null) return undefined;
  switch (plan.bodyKind ?? "string") {
    case "bytes":
      return new TextEncoder().encode(plan.body);
    case "buffer":
      return new TextEncoder().encode(plan.body).buffer;
    case "params":
      return new URLSearchParams(plan.body);
    case "json":
      return JSON.stringify(plan.body);
    default:
      return plan.body;
  }
}

async function run(request) {
  const plan = await request.json();
  const init = { method: plan.method ?? "GET", headers: plan.headers ?? {}, body: bodyOf(plan) };
  if (plan.redirect) init.redirect = plan.redirect;
  try {
    const response =
      plan.bodyKind === "request" ? await fetch(new Request(plan.url, init)) : await fetch(plan.url, init);
    const text = await response.text();
    return Response.json({
      status: response.status,
      statusText: response.statusText,
      ok: response.ok,
      url: response.url,
      headers: Object.fromEntries(response.headers),
      text,
    });
  } catch (error) {
    return Response.json(
      { name: error.name, error: error.message, refused: error.refused === true },
      { status: 502 },
    );
  }
}

export class OutboundProbe extends DurableObject {
  async fetch(request) {
    // A write in the same event, so that fetch is known to work inside a storage turn.
    await this.ctx.storage.put("fetches", ((await this.ctx.storage.get("fetches")) ?? 0) + 1);
    return run(request);
  }
}

export default {
  async fetch(request) {
    return run(request);
  },
};
