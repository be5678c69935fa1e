# workerd configuration for the benchmark: the JS counter (counter.js) as a Durable Object
# namespace with SQLite storage on local disk. The harness overrides the listen address
# (--socket-addr http=127.0.0.1:PORT) and the storage directory (--directory-path
# do-storage=DIR), so nothing here is machine-specific.
using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [
    (name = "main", worker = .counterWorker),
    (name = "do-storage", disk = (path = "/tmp/wdo-bench-workerd", writable = true)),
  ],
  sockets = [ (name = "http", address = "127.0.0.1:8788", http = (), service = "main") ],
);

const counterWorker :Workerd.Worker = (
  modules = [ (name = "counter.js", esModule = embed "counter.js") ],
  compatibilityDate = "2025-01-01",
  durableObjectNamespaces = [
    (className = "Counter", uniqueKey = "wdo-bench-counter", enableSql = true),
  ],
  durableObjectStorage = (localDisk = "do-storage"),
  bindings = [ (name = "COUNTER", durableObjectNamespace = "Counter") ],
);
