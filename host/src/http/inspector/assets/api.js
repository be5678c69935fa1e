// Every call to the admin API goes through `api`. With an admin token configured the API
// answers 401 to a request without `Authorization: Bearer <token>`; a browser cannot add
// that header to a page it navigates to, so the page (served without the token, it holds
// no data) asks for the token on the first 401, keeps it in this tab's sessionStorage and
// sends it with every call. An `{"error": ...}` answer becomes an ApiError with that text.

import { $ } from "./dom.js";

const TOKEN_KEY = "wdo-admin-token";

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/** The prompt on screen, shared by every call that got a 401 meanwhile. */
let asking = null;

/**
 * Calls the admin API. `json` is sent as a JSON body; the answer is parsed JSON, or with
 * `as: "text"` text, with `as: "response"` the Response itself (for downloads).
 */
export async function api(path, { method = "GET", json, as = "json" } = {}) {
  for (;;) {
    const headers = {};
    const token = sessionStorage.getItem(TOKEN_KEY);
    if (token) headers.Authorization = `Bearer ${token}`;
    let body;
    if (json !== undefined) {
      headers["Content-Type"] = "application/json";
      body = JSON.stringify(json);
    }
    let response;
    try {
      response = await fetch(path, { method, headers, body, cache: "no-store" });
    } catch (e) {
      throw new ApiError(0, `cannot reach the admin listener (${e.message})`);
    }
    if (response.status === 401) {
      await askToken(await errorOf(response));
      continue;
    }
    if (!response.ok) throw new ApiError(response.status, await errorOf(response));
    if (as === "response") return response;
    if (as === "text") return response.text();
    return response.json();
  }
}

async function errorOf(response) {
  const text = await response.text();
  try {
    const value = JSON.parse(text);
    if (value && typeof value.error === "string") return value.error;
  } catch {
    // Not JSON: the text itself says what happened.
  }
  return `${response.status} ${response.statusText}${text ? `: ${text}` : ""}`;
}

/** Shows the token form with the API's reason; resolves once a token was entered. */
function askToken(reason) {
  if (!asking) {
    asking = new Promise((resolve) => {
      const dialog = $("#token-dialog");
      const form = $("#token-form");
      const input = $("#token-input");
      $("#token-reason").textContent = reason;
      dialog.hidden = false;
      input.value = "";
      input.focus();
      form.onsubmit = (event) => {
        event.preventDefault();
        const token = input.value.trim();
        if (!token) return;
        sessionStorage.setItem(TOKEN_KEY, token);
        dialog.hidden = true;
        form.onsubmit = null;
        asking = null;
        showTokenState();
        resolve();
      };
    });
  }
  return asking;
}

/** The header's "forget token" button, shown while this tab keeps a token. */
export function showTokenState() {
  const button = $("#token-forget");
  button.hidden = !sessionStorage.getItem(TOKEN_KEY);
  button.onclick = () => {
    sessionStorage.removeItem(TOKEN_KEY);
    button.hidden = true;
  };
}

const enc = encodeURIComponent;

/** The API path of a namespace, and of an object in it (`name` or `@id`). */
export const paths = {
  namespace: (ns) => `/v1/namespaces/${enc(ns)}`,
  object: (ns, target) => `/v1/namespaces/${enc(ns)}/objects/${enc(target)}`,
};

/** A query string from the parameters that are set. */
export function query(params) {
  const parts = Object.entries(params)
    .filter(([, v]) => v !== undefined && v !== null && v !== "")
    .map(([k, v]) => `${enc(k)}=${enc(v)}`);
  return parts.length ? `?${parts.join("&")}` : "";
}
