//! `cart-worker`: a Worker in Rust that owns `/cart/` and is the carts' public API. It
//! checks every request before any object sees it, then calls the user's cart (the Rust
//! object of `examples/cart`, namespace `carts`, binding `CARTS`) by typed RPC.
//!
//! - `GET /cart/<user>` → the cart: `{"items": [{"item", "qty"}], "totalQty": N}`;
//! - `POST /cart/<user>/add` with `{"item": "apple", "qty": 2}` (qty defaults to 1) → the cart;
//! - `POST /cart/<user>/remove` with `{"item": "apple"}` → the cart;
//! - `POST /cart/<user>/checkout` → `{"order": N, "items": [...]}`;
//! - `GET /cart/<user>/orders` → `{"orders": [...]}`.
//!
//! Errors, as `{"error": message}`: `400` for a user name not of 1 to 64 characters
//! `[A-Za-z0-9_-]`, a body that is not the JSON described (the message names the field), or
//! a quantity outside 1..=99; `404` for another path; `405` for another method; `409` when the
//! cart says no (more than 50 distinct items, too many of one, an empty checkout); `503` when
//! the cart cannot be reached (`unavailable`, `timeout`); `502` when it failed.
//! The cart itself stays reachable at `/carts/<user>/items` (the namespace's own URL).

use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::Value;
use wdo_sdk::{binding, export_worker, Error, Request, Response, RpcError, RpcErrorCode, Worker};

struct CartApi;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Add {
    item: String,
    #[serde(default = "one")]
    qty: u32,
}

fn one() -> u32 {
    1
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Remove {
    item: String,
}

fn valid_user(user: &str) -> bool {
    (1..=64).contains(&user.len())
        && user
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The request's JSON body as `T`, or a 400 that says what is wrong with it.
fn body<T: DeserializeOwned>(request: &Request) -> Result<T, Error> {
    serde_json::from_slice(request.body())
        .map_err(|e| Error::bad_request(format!("the body is not the JSON expected: {e}")))
}

/// An RPC failure as the HTTP status the client should see.
fn unreachable_cart(e: RpcError) -> Error {
    let status = match e.code {
        RpcErrorCode::Unavailable | RpcErrorCode::Timeout => 503,
        _ => 502,
    };
    Error::new(status, format!("the cart could not answer: {}", e.message))
}

/// Calls the user's cart; a `{"error"}` answer (a rule that said no) is a 409.
fn cart(user: &str, method: &str, args: impl serde::Serialize) -> Result<Response, Error> {
    let answer: Value = binding("CARTS")
        .get_by_name(user)
        .and_then(|stub| stub.call(method, &args))
        .map_err(unreachable_cart)?;
    Ok(match answer.get("error") {
        Some(error) => Response::json(&serde_json::json!({ "error": error })).with_status(409),
        None => Response::json(&answer),
    })
}

impl Worker for CartApi {
    fn fetch(request: Request) -> Result<Response, Error> {
        let segments = request.segments();
        let (user, action) = match segments.as_slice() {
            ["cart", user] => (*user, ""),
            ["cart", user, action] => (*user, *action),
            _ => {
                return Err(Error::not_found(
                    "not found: /cart/<user>[/add|/remove|/checkout|/orders]",
                ))
            }
        };
        if !valid_user(user) {
            return Err(Error::bad_request(format!(
                "user {user:?} must be 1 to 64 characters of A-Z, a-z, 0-9, - and _"
            )));
        }
        match (request.method(), action) {
            ("GET", "") => cart(user, "items", ()),
            ("GET", "orders") => cart(user, "orders", ()),
            ("POST", "add") => {
                let add: Add = body(&request)?;
                if !(1..=99).contains(&add.qty) {
                    return Err(Error::bad_request("qty must be from 1 to 99"));
                }
                cart(user, "add", (add.item, add.qty))
            }
            ("POST", "remove") => {
                let remove: Remove = body(&request)?;
                cart(user, "remove", (remove.item,))
            }
            ("POST", "checkout") => cart(user, "checkout", ()),
            (_, "" | "orders" | "add" | "remove" | "checkout") => Err(Error::method_not_allowed(
                format!("{} is not allowed here", request.method()),
            )),
            _ => Err(Error::not_found(format!("no action {action:?}"))),
        }
    }
}

export_worker!(CartApi);
