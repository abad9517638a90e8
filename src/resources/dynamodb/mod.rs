//! DynamoDB: the fulfillment Lambda's table of failed verification attempts.

pub mod table;
