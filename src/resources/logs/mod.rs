//! CloudWatch Logs: the fulfillment Lambda's log group, made before the function so that Lambda
//! never creates an untagged one with unlimited retention.

pub mod log_group;
