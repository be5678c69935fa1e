//! `bank`: transactions and rollback. Balances are whole numbers kept under `balance:U`.
//!
//! - `POST /deposit` `{"user": U, "amount": A}` → `{"balance": B}`.
//! - `GET /balance/{user}` → `{"balance": B}` (0 if unknown).
//! - `POST /transfer` `{"from": U1, "to": U2, "amount": A}` → `{"ok": true}`, or
//!   `{"ok": false}` when U1 has less than A.
//! - `POST /transfer?fail=after-debit` writes the debit, then panics before the credit: the
//!   trap rolls the whole turn back, so nothing changes and the answer is 500.
//! - `POST /batch` `{"transfers": [...]}` runs every transfer in one explicit transaction;
//!   the first that would overdraw rolls it back: `{"ok": false, "failedAt": i}`.
//!
//! Amounts must be positive integers and users non-empty strings, else 400.

use serde::{Deserialize, Serialize};
use wdo_sdk::{
    export_object, DurableObject, Error, Request, Response, State, Storage, StorageError,
};

struct Bank {
    storage: Storage,
}

#[derive(Deserialize)]
struct Deposit {
    user: String,
    amount: u64,
}

#[derive(Deserialize)]
struct Transfer {
    from: String,
    to: String,
    amount: u64,
}

#[derive(Deserialize)]
struct Batch {
    transfers: Vec<Transfer>,
}

#[derive(Serialize)]
struct Balance {
    balance: u64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Outcome {
    ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    failed_at: Option<usize>,
}

/// Why a batch's transaction was rolled back.
enum BatchFailure {
    /// The transfer at this index would have overdrawn its sender.
    Overdrawn(usize),
    Failed(Error),
}

impl From<StorageError> for BatchFailure {
    fn from(error: StorageError) -> Self {
        BatchFailure::Failed(error.into())
    }
}

impl Deposit {
    fn validate(&self) -> Result<(), String> {
        validate_user("user", &self.user)?;
        validate_amount(self.amount)
    }
}

impl Transfer {
    fn validate(&self) -> Result<(), String> {
        validate_user("from", &self.from)?;
        validate_user("to", &self.to)?;
        validate_amount(self.amount)
    }
}

fn validate_user(field: &str, user: &str) -> Result<(), String> {
    if user.is_empty() {
        return Err(format!("{field} must be a non-empty string"));
    }
    Ok(())
}

fn validate_amount(amount: u64) -> Result<(), String> {
    if amount == 0 {
        return Err("amount must be a positive integer".to_owned());
    }
    Ok(())
}

fn balance_key(user: &str) -> String {
    format!("balance:{user}")
}

fn balance(storage: &Storage, user: &str) -> Result<u64, StorageError> {
    Ok(storage.get(&balance_key(user))?.unwrap_or(0))
}

/// Adds `amount` to `user`'s balance and returns the new balance.
fn credit(storage: &Storage, user: &str, amount: u64) -> Result<u64, Error> {
    let balance = balance(storage, user)?
        .checked_add(amount)
        .ok_or_else(|| Error::bad_request(format!("the balance of {user:?} would overflow")))?;
    storage.put(&balance_key(user), &balance)?;
    Ok(balance)
}

/// Takes `amount` from `user`; `false` (and nothing written) if the balance is too low.
fn debit(storage: &Storage, user: &str, amount: u64) -> Result<bool, StorageError> {
    let balance = balance(storage, user)?;
    if balance < amount {
        return Ok(false);
    }
    storage.put(&balance_key(user), &(balance - amount))?;
    Ok(true)
}

/// Moves the money; `false` (and nothing written) if the sender has too little.
/// Not atomic by itself: run it in a transaction.
fn transfer(storage: &Storage, transfer: &Transfer) -> Result<bool, Error> {
    if !debit(storage, &transfer.from, transfer.amount)? {
        return Ok(false);
    }
    credit(storage, &transfer.to, transfer.amount)?;
    Ok(true)
}

impl Bank {
    fn deposit(&self, request: &Request) -> Result<Response, Error> {
        let deposit: Deposit = request.json()?;
        deposit.validate().map_err(Error::bad_request)?;
        let balance = credit(&self.storage, &deposit.user, deposit.amount)?;
        Ok(Response::json(&Balance { balance }))
    }

    fn balance(&self, user: &str) -> Result<Response, Error> {
        let balance = balance(&self.storage, user)?;
        Ok(Response::json(&Balance { balance }))
    }

    fn transfer(&self, request: &Request) -> Result<Response, Error> {
        let order: Transfer = request.json()?;
        order.validate().map_err(Error::bad_request)?;

        let ok = match request.query("fail").as_deref() {
            // In a transaction so that a failed credit (an overflow) also undoes the debit.
            None => self
                .storage
                .transaction(|storage| transfer(storage, &order))?,
            Some("after-debit") => {
                if debit(&self.storage, &order.from, order.amount)? {
                    panic!("failing on purpose after the debit (fail=after-debit)");
                }
                false
            }
            Some(other) => {
                return Err(Error::bad_request(format!(
                    "unknown fail mode {other:?}; the only one is \"after-debit\""
                )))
            }
        };
        Ok(Response::json(&Outcome {
            ok,
            failed_at: None,
        }))
    }

    fn batch(&self, request: &Request) -> Result<Response, Error> {
        let batch: Batch = request.json()?;
        for (i, order) in batch.transfers.iter().enumerate() {
            order
                .validate()
                .map_err(|message| Error::bad_request(format!("transfers[{i}]: {message}")))?;
        }

        let result = self.storage.transaction(|storage| {
            for (i, order) in batch.transfers.iter().enumerate() {
                if !transfer(storage, order).map_err(BatchFailure::Failed)? {
                    return Err(BatchFailure::Overdrawn(i));
                }
            }
            Ok(())
        });
        let failed_at = match result {
            Ok(()) => None,
            Err(BatchFailure::Overdrawn(i)) => Some(i),
            Err(BatchFailure::Failed(error)) => return Err(error),
        };
        Ok(Response::json(&Outcome {
            ok: failed_at.is_none(),
            failed_at,
        }))
    }
}

impl DurableObject for Bank {
    fn new(state: State) -> Self {
        Bank {
            storage: state.storage(),
        }
    }

    fn fetch(&mut self, request: Request) -> Result<Response, Error> {
        let method = request.method();
        match request.segments().as_slice() {
            ["deposit"] if method == "POST" => self.deposit(&request),
            ["balance", user] if method == "GET" => self.balance(user),
            ["transfer"] if method == "POST" => self.transfer(&request),
            ["batch"] if method == "POST" => self.batch(&request),
            ["deposit" | "transfer" | "batch"] => Err(Error::method_not_allowed("use POST")),
            ["balance", _] => Err(Error::method_not_allowed("use GET")),
            _ => Ok(Response::not_found()),
        }
    }
}

export_object!(Bank);
