//! `cart` (namespace `carts`): one shopping cart per user, called by RPC from the Rust
//! worker in `examples/cart-worker` (which owns the public `/cart/` URLs).
//!
//! RPC methods (arguments as a JSON array; every answer is JSON):
//! - `add(item, qty)` → the cart (see `items`), after adding `qty` of `item`;
//! - `remove(item)` → the cart, without `item` (removing an item not in it is no error);
//! - `items()` → `{"items": [{"item", "qty"}, ...] (by name), "totalQty": N}`;
//! - `checkout()` → `{"order": N, "items": [...]}`: the cart becomes order N (1, 2, ... per
//!   user, kept across evictions and restarts) and is emptied;
//! - `orders()` → `{"orders": [{"order", "items"}, ...]}`, oldest first.
//!
//! A business rule that says no is an answer, not a failure (nothing was written):
//! `{"error": "..."}` for a quantity outside 1..=99 (also in total for one item), an item name
//! not of 1 to 64 characters `[a-z0-9-]`, more than 50 distinct items, or a checkout of an
//! empty cart. Malformed arguments fail the call (`failed`, with the reason).
//!
//! Its own URL answers `GET /items` with `items()`, for a look from outside the worker:
//! `/carts/<user>/items`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use wdo_sdk::{export_object, rpc_args, DurableObject, Error, Request, Response, State};

/// Most distinct items one cart holds.
pub const MAX_ITEMS: usize = 50;
/// Most of one item.
pub const MAX_QTY: u32 = 99;

const CART_KEY: &str = "cart";
const ORDERS_KEY: &str = "orders";

#[derive(Serialize, Deserialize, Clone)]
struct Line {
    item: String,
    qty: u32,
}

#[derive(Serialize, Deserialize)]
struct Order {
    order: u64,
    items: Vec<Line>,
}

struct Cart {
    state: State,
}

/// Why an item name is not valid, if it is not.
fn bad_item(item: &str) -> Option<String> {
    let valid = (1..=64).contains(&item.len())
        && item
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    (!valid).then(|| format!("item {item:?} must be 1 to 64 characters of a-z, 0-9 and -"))
}

impl Cart {
    fn load(&self) -> Result<BTreeMap<String, u32>, Error> {
        Ok(self.state.storage().get(CART_KEY)?.unwrap_or_default())
    }

    fn view(cart: &BTreeMap<String, u32>) -> Value {
        let items: Vec<Line> = cart
            .iter()
            .map(|(item, qty)| Line {
                item: item.clone(),
                qty: *qty,
            })
            .collect();
        json!({ "items": items, "totalQty": cart.values().sum::<u32>() })
    }

    fn add(&self, item: String, qty: u32) -> Result<Value, Error> {
        if let Some(why) = bad_item(&item) {
            return Ok(json!({ "error": why }));
        }
        let mut cart = self.load()?;
        let now = cart.get(&item).copied().unwrap_or(0);
        if qty == 0 || now + qty > MAX_QTY {
            return Ok(json!({
                "error": format!("the quantity of {item:?} must stay between 1 and {MAX_QTY} (it is {now})")
            }));
        }
        if now == 0 && cart.len() >= MAX_ITEMS {
            return Ok(json!({
                "error": format!("a cart holds at most {MAX_ITEMS} distinct items")
            }));
        }
        cart.insert(item, now + qty);
        self.state.storage().put(CART_KEY, &cart)?;
        Ok(Self::view(&cart))
    }

    fn remove(&self, item: String) -> Result<Value, Error> {
        let mut cart = self.load()?;
        if cart.remove(&item).is_some() {
            self.state.storage().put(CART_KEY, &cart)?;
        }
        Ok(Self::view(&cart))
    }

    fn checkout(&self) -> Result<Value, Error> {
        let cart = self.load()?;
        if cart.is_empty() {
            return Ok(json!({ "error": "the cart is empty: nothing to check out" }));
        }
        let storage = self.state.storage();
        let mut orders: Vec<Order> = storage.get(ORDERS_KEY)?.unwrap_or_default();
        let order = Order {
            order: orders.len() as u64 + 1,
            items: cart
                .into_iter()
                .map(|(item, qty)| Line { item, qty })
                .collect(),
        };
        let answer = json!({ "order": order.order, "items": order.items });
        orders.push(order);
        // One turn: the order and the empty cart are committed together.
        storage.put(ORDERS_KEY, &orders)?;
        storage.delete(CART_KEY)?;
        Ok(answer)
    }

    fn orders(&self) -> Result<Value, Error> {
        let orders: Vec<Order> = self.state.storage().get(ORDERS_KEY)?.unwrap_or_default();
        Ok(json!({ "orders": orders }))
    }
}

impl DurableObject for Cart {
    fn new(state: State) -> Self {
        Cart { state }
    }

    fn fetch(&mut self, request: Request) -> Result<Response, Error> {
        match (request.method(), request.path()) {
            ("GET", "/items") => Ok(Response::json(&Self::view(&self.load()?))),
            _ => Err(Error::not_found(
                "not found: GET /items, or the RPC methods",
            )),
        }
    }

    fn call(&mut self, method: &str, args: Value) -> Result<Value, Error> {
        match method {
            "add" => {
                let (item, qty): (String, u32) = rpc_args(args)?;
                self.add(item, qty)
            }
            "remove" => {
                let (item,): (String,) = rpc_args(args)?;
                self.remove(item)
            }
            "items" => Ok(Self::view(&self.load()?)),
            "checkout" => self.checkout(),
            "orders" => self.orders(),
            _ => Err(Error::not_found(format!("no RPC method {method:?}"))),
        }
    }
}

export_object!(Cart);
