//! SQL over the object's own SQLite database.

use serde::de::DeserializeOwned;

use crate::bindings::wdo::object::sql as wit;
use crate::sql_decode::{decode_row, decode_value};
use crate::SqlError;

type Result<T, E = SqlError> = std::result::Result<T, E>;

/// SQL over the object's own SQLite database, the file that also holds its key-value data.
/// Get it from [`Storage::sql`](crate::Storage::sql).
///
/// Every call joins the turn's implicit transaction (and the innermost open
/// [`transaction`](crate::Storage::transaction)): SQL writes are committed or rolled back
/// together with key-value writes. A call is atomic: if one of its statements fails, none
/// of its writes remain.
///
/// ```no_run
/// # use wdo_sdk::{params, Sql, SqlError};
/// # fn example(sql: &Sql) -> Result<(), SqlError> {
/// #[derive(serde::Deserialize)]
/// struct Note { id: i64, text: String }
///
/// sql.exec("CREATE TABLE IF NOT EXISTS notes (id INTEGER PRIMARY KEY, text TEXT NOT NULL)", params![])?;
/// let id: i64 = sql.exec("INSERT INTO notes (text) VALUES (?) RETURNING id", params!["hello"])?.one()?;
/// let note: Note = sql.exec("SELECT id, text FROM notes WHERE id = ?", params![id])?.one()?;
/// let count: i64 = sql.exec("SELECT count(*) FROM notes", params![])?.one()?;
/// # Ok(()) }
/// ```
///
/// The host's tables (`_wdo_...`) are out of reach, and so are ATTACH, transaction
/// statements (BEGIN, SAVEPOINT, ...: use [`Storage::transaction`](crate::Storage::transaction)),
/// most PRAGMAs and `load_extension`; such a statement fails with
/// [`SqlErrorCode::NotAuthorized`](crate::SqlErrorCode::NotAuthorized) and a message that says
/// why. Limits: a query of at most 100,000 bytes, 100 parameters, values and rows of 2 MiB.
#[derive(Debug, Clone, Copy)]
pub struct Sql {
    _private: (),
}

impl Sql {
    pub(crate) fn new() -> Self {
        Self { _private: () }
    }

    /// Runs `query`, one statement or several separated by `;`, in order, and returns the
    /// last statement's rows. Only the last statement may have parameters (`?`, `?NNN`,
    /// `:name`, ...); `params` are bound to them by position and must be exactly as many.
    /// Build them with [`params!`](crate::params).
    pub fn exec(&self, query: &str, params: &[SqlValue]) -> Result<Cursor> {
        let params: Vec<wit::Value> = params.iter().cloned().map(wit::Value::from).collect();
        Ok(Cursor::from(wit::exec(query, &params)?))
    }

    /// The database's size in bytes, key-value data included.
    pub fn database_size(&self) -> u64 {
        wit::database_size()
    }
}

/// Builds the parameter list of [`Sql::exec`] from values that convert into [`SqlValue`]:
/// integers, floats, `bool`, strings, byte vectors, `Option`s of those (`None` is NULL).
///
/// ```
/// # use wdo_sdk::{params, SqlValue};
/// let text = String::from("hello");
/// let list: &[SqlValue] = params![&text, 42, None::<i64>];
/// assert_eq!(list[1], SqlValue::Integer(42));
/// ```
#[macro_export]
macro_rules! params {
    () => {
        &[] as &[$crate::SqlValue]
    };
    ($($value:expr),+ $(,)?) => {
        &[$($crate::SqlValue::from($value)),+] as &[$crate::SqlValue]
    };
}

/// A parameter or a column value: one of SQLite's storage classes.
#[derive(Debug, Clone, PartialEq)]
pub enum SqlValue {
    Null,
    Integer(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
}

macro_rules! integer_values {
    ($($int:ty),*) => {$(
        impl From<$int> for SqlValue {
            fn from(value: $int) -> Self {
                SqlValue::Integer(i64::from(value))
            }
        }
    )*};
}

integer_values!(i8, i16, i32, i64, u8, u16, u32, bool);

impl From<f64> for SqlValue {
    fn from(value: f64) -> Self {
        SqlValue::Real(value)
    }
}

impl From<f32> for SqlValue {
    fn from(value: f32) -> Self {
        SqlValue::Real(f64::from(value))
    }
}

impl From<&str> for SqlValue {
    fn from(value: &str) -> Self {
        SqlValue::Text(value.to_owned())
    }
}

impl From<String> for SqlValue {
    fn from(value: String) -> Self {
        SqlValue::Text(value)
    }
}

impl From<&String> for SqlValue {
    fn from(value: &String) -> Self {
        SqlValue::Text(value.clone())
    }
}

impl From<Vec<u8>> for SqlValue {
    fn from(value: Vec<u8>) -> Self {
        SqlValue::Blob(value)
    }
}

impl From<&[u8]> for SqlValue {
    fn from(value: &[u8]) -> Self {
        SqlValue::Blob(value.to_vec())
    }
}

impl<T: Into<SqlValue>> From<Option<T>> for SqlValue {
    fn from(value: Option<T>) -> Self {
        value.map_or(SqlValue::Null, Into::into)
    }
}

impl From<SqlValue> for wit::Value {
    fn from(value: SqlValue) -> Self {
        match value {
            SqlValue::Null => wit::Value::Null,
            SqlValue::Integer(n) => wit::Value::Integer(n),
            SqlValue::Real(x) => wit::Value::Real(x),
            SqlValue::Text(text) => wit::Value::Text(text),
            SqlValue::Blob(bytes) => wit::Value::Blob(bytes),
        }
    }
}

impl From<wit::Value> for SqlValue {
    fn from(value: wit::Value) -> Self {
        match value {
            wit::Value::Null => SqlValue::Null,
            wit::Value::Integer(n) => SqlValue::Integer(n),
            wit::Value::Real(x) => SqlValue::Real(x),
            wit::Value::Text(text) => SqlValue::Text(text),
            wit::Value::Blob(bytes) => SqlValue::Blob(bytes),
        }
    }
}

/// What [`Sql::exec`] returned: the last statement's rows (all of them, already read), and
/// how many rows all its statements read and wrote.
///
/// Rows decode with serde into any `T: Deserialize`: a struct (fields by column name), a
/// tuple (by position), a single value when the row has one column, or a
/// `serde_json::Value`. A column holding JSON text decodes into a nested struct or list.
#[derive(Debug, Clone, PartialEq)]
pub struct Cursor {
    columns: Vec<String>,
    rows: Vec<Vec<SqlValue>>,
    rows_read: u64,
    rows_written: u64,
}

impl From<wit::Cursor> for Cursor {
    fn from(cursor: wit::Cursor) -> Self {
        Self {
            columns: cursor.columns,
            rows: cursor
                .rows
                .into_iter()
                .map(|row| row.into_iter().map(SqlValue::from).collect())
                .collect(),
            rows_read: cursor.rows_read,
            rows_written: cursor.rows_written,
        }
    }
}

impl Cursor {
    /// The last statement's column names, in order.
    pub fn column_names(&self) -> &[String] {
        &self.columns
    }

    /// Rows read by all the statements: an estimate, at least the rows returned, and every
    /// row of a table scanned in full.
    pub fn rows_read(&self) -> u64 {
        self.rows_read
    }

    /// Rows inserted, updated or deleted by all the statements, triggers included.
    pub fn rows_written(&self) -> u64 {
        self.rows_written
    }

    /// How many rows the last statement returned.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether the last statement returned no row.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The rows as values, one per column.
    pub fn raw(&self) -> &[Vec<SqlValue>] {
        &self.rows
    }

    /// Every row, decoded as `T`.
    pub fn to_vec<T: DeserializeOwned>(&self) -> Result<Vec<T>> {
        self.iter().collect()
    }

    /// Every row, decoded as `T` one at a time.
    pub fn iter<T: DeserializeOwned>(&self) -> impl Iterator<Item = Result<T>> + '_ {
        self.rows().map(|row| row.decode())
    }

    /// The rows, undecoded.
    pub fn rows(&self) -> impl Iterator<Item = Row<'_>> + '_ {
        self.rows.iter().enumerate().map(|(index, values)| Row {
            index,
            columns: &self.columns,
            values,
        })
    }

    /// The only row, decoded as `T`; an error if there are none or several.
    pub fn one<T: DeserializeOwned>(&self) -> Result<T> {
        match self.rows.len() {
            1 => self.rows().next().expect("one row").decode(),
            0 => Err(SqlError::decode(
                "Expected exactly one result from SQL query, but got no results".into(),
            )),
            n => Err(SqlError::decode(format!(
                "Expected exactly one result from SQL query, but got {n} results"
            ))),
        }
    }

    /// The row, decoded as `T`, or `None` if there is none; an error if there are several.
    pub fn optional<T: DeserializeOwned>(&self) -> Result<Option<T>> {
        match self.rows.len() {
            0 => Ok(None),
            _ => self.one().map(Some),
        }
    }
}

impl<'a> IntoIterator for &'a Cursor {
    type Item = Row<'a>;
    type IntoIter = Box<dyn Iterator<Item = Row<'a>> + 'a>;

    fn into_iter(self) -> Self::IntoIter {
        Box::new(self.rows())
    }
}

/// One row of a [`Cursor`].
#[derive(Debug, Clone, Copy)]
pub struct Row<'a> {
    index: usize,
    columns: &'a [String],
    values: &'a [SqlValue],
}

impl<'a> Row<'a> {
    /// The row decoded as `T` (see [`Cursor`]).
    pub fn decode<T: DeserializeOwned>(&self) -> Result<T> {
        decode_row(self.columns, self.values).map_err(|error| {
            SqlError::decode(format!(
                "cannot decode row {} as {}: {error}",
                self.index,
                std::any::type_name::<T>()
            ))
        })
    }

    /// The value of `column` decoded as `T`; an error if there is no such column.
    pub fn get<T: DeserializeOwned>(&self, column: &str) -> Result<T> {
        let value = self.value(column).ok_or_else(|| {
            SqlError::decode(format!(
                "no column {column:?}; the columns are {:?}",
                self.columns
            ))
        })?;
        decode_value(value).map_err(|error| {
            SqlError::decode(format!(
                "cannot decode column {column:?} of row {} as {}: {error}",
                self.index,
                std::any::type_name::<T>()
            ))
        })
    }

    /// The value of `column`, if there is such a column.
    pub fn value(&self, column: &str) -> Option<&'a SqlValue> {
        let index = self.columns.iter().position(|name| name == column)?;
        self.values.get(index)
    }

    /// The values, one per column.
    pub fn values(&self) -> &'a [SqlValue] {
        self.values
    }
}
