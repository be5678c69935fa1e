# workerd configuration for the benchmark: the JS counter (counter.js) and chat
# (examples/chat-js/chat.js, copied here by the harness with Cloudflare's import) as Durable
# Object namespaces with SQLite storage on local disk, behind the router main.js. The harness
# assembles this directory in its cache (setup::workerd_config) and overrides the listen
# address (--socket-addr http=127.0.0.1:PORT) and the storage directory (--directory-path
# do-storage=DIR), so nothing here is machine-specific.
using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [
    (name = "main", worker = .benchWorker),
    (name = "do-storage", disk = (path = "/tmp/wdo-bench-workerd", writable = true)),
  ],
  sockets = [ (name = "http", address = "127.0.0.1:8788", http = (), service = "main") ],
);

const benchWorker :Workerd.Worker = (
  modules = [
    (name = "main.js", esModule = embed "main.js"),
    (name = "counter.js", esModule = embed "counter.js"),
    (name = "chat.js", esModule = embed "chat.js"),
  ],
  compatibilityDate = "2025-01-01",
  durableObjectNamespaces = [
    (className = "Counter", uniqueKey = "wdo-bench-counter", enableSql = true),
    (className = "Chat", uniqueKey = "wdo-bench-chat", enableSql = true),
  ],
  durableObjectStorage = (localDisk = "do-storage"),
  bindings = [
    (name = "COUNTER", durableObjectNamespace = "Counter"),
    (name = "CHAT", durableObjectNamespace = "Chat"),
  ],
);
