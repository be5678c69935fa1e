// What `fetch` says of a wasi:http error code, and the reason phrases of common statuses
// (wasi:http does not carry the server's).

/// The error code's case name, normalized: componentize spells WIT names as WIT does
/// (`HTTP-request-denied`), compared here without case or dashes.
function key(tag) {
  return String(tag).toLowerCase().replace(/[^a-z0-9]/g, "");
}

const MESSAGES = {
  dnstimeout: "resolving its host name timed out",
  dnserror: "its host name did not resolve",
  destinationnotfound: "its host name did not resolve",
  destinationunavailable: "its host is unavailable",
  destinationipprohibited: "its address is prohibited",
  destinationipunroutable: "its address is unroutable",
  connectionrefused: "the connection was refused (nothing listens there?)",
  connectionterminated: "the connection closed before the response",
  connectiontimeout: "the connection timed out",
  connectionreadtimeout: "no response in time (read timeout)",
  connectionwritetimeout: "sending the request timed out",
  connectionlimitreached: "too many outbound connections are open",
  tlsprotocolerror: "TLS failed (protocol error)",
  tlscertificateerror: "TLS failed (the server's certificate was not accepted)",
  tlsalertreceived: "TLS failed (the server sent an alert)",
  httprequestmethodinvalid: "the method is not valid",
  httprequesturiinvalid: "the URL is not valid",
  httprequesturitoolong: "the URL is too long",
  httprequestheadersectionsize: "the request headers are too large",
  httprequestheadersize: "a request header is too large",
  httprequesttrailersectionsize: "the request trailers are too large",
  httprequestbodysize: "the request body does not match its content-length",
  httpresponseincomplete: "the response was incomplete",
  httpresponseheadersectionsize: "the response headers are too large",
  httpresponseheadersize: "a response header is too large",
  httpresponsebodysize: "the response body is too large",
  httpresponsetimeout: "no response in time",
  httpresponsecontentcoding: "the response's content coding is not supported",
  httpprotocolerror: "the server broke the HTTP protocol",
  httpupgradefailed: "the HTTP upgrade failed",
  loopdetected: "a loop was detected",
  configurationerror: "the host's HTTP configuration failed",
};

/// `{ refused, message }` for a wasi:http error code `{ tag, val }`.
export function describeErrorCode(url, code) {
  const tag = key(code.tag);
  if (tag === "httprequestdenied") {
    let host = url;
    try {
      host = new globalThis.URL(url).host;
    } catch {
      // The URL as given, then.
    }
    return { refused: true, message: `the host refused it: ${host} is not in allowed-outbound-hosts` };
  }
  let message = MESSAGES[tag] ?? `failed (${code.tag})`;
  if (tag === "dnserror" && code.val && code.val.rcode) message += ` (${code.val.rcode})`;
  if (tag === "internalerror" && code.val) message = `the host failed: ${code.val}`;
  return { refused: false, message };
}

const REASONS = {
  200: "OK", 201: "Created", 202: "Accepted", 204: "No Content", 206: "Partial Content",
  301: "Moved Permanently", 302: "Found", 303: "See Other", 304: "Not Modified",
  307: "Temporary Redirect", 308: "Permanent Redirect",
  400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
  405: "Method Not Allowed", 409: "Conflict", 410: "Gone", 413: "Content Too Large",
  415: "Unsupported Media Type", 422: "Unprocessable Content", 429: "Too Many Requests",
  500: "Internal Server Error", 501: "Not Implemented", 502: "Bad Gateway",
  503: "Service Unavailable", 504: "Gateway Timeout",
};

/// The standard reason phrase of `status`, or "".
export function reasonPhrase(status) {
  return REASONS[status] ?? "";
}
