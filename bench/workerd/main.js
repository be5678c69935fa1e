// The router of the workerd side of the benchmark: the same URLs as wdo's namespaces.
//   /counter/{name}/{rest}  -> the Counter object named {name} (counter.js), which sees /{rest}
//   /chat/{room}/{rest}     -> the Chat object of {room} (examples/chat-js/chat.js)
import { Counter } from "./counter.js";
import { Chat } from "./chat.js";

export { Counter, Chat };

const NAMESPACES = { counter: "COUNTER", chat: "CHAT" };

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    const match = url.pathname.match(/^\/([^/]+)\/([^/]+)(\/.*)?$/);
    const binding = match && NAMESPACES[match[1]];
    if (!binding) {
      return new Response("expected /counter/{name}/{path} or /chat/{room}/{path}", { status: 404 });
    }
    const namespace = env[binding];
    const stub = namespace.get(namespace.idFromName(decodeURIComponent(match[2])));
    const inner = new URL((match[3] ?? "/") + url.search, url.origin);
    return stub.fetch(new Request(inner, request));
  },
};
