//! The one waiter for everything that becomes ready asynchronously: poll with exponential
//! backoff and jitter until a target state, a failure state, or the timeout.

use std::future::Future;
use std::time::{Duration, Instant};

/// What one poll found.
pub enum Poll<T> {
    /// The target state was reached.
    Ready(T),
    /// Still on the way; the text says the current state, for progress.
    Pending(String),
    /// A state that will never reach the target.
    Failed(String),
}

#[derive(Debug, thiserror::Error)]
pub enum WaitError {
    #[error("timed out after {}s waiting for {what} (last state: {last}); {hint}", after.as_secs())]
    Timeout {
        what: String,
        after: Duration,
        last: String,
        hint: String,
    },
    #[error("{what} failed: {reason}")]
    Failed { what: String, reason: String },
    #[error("{what}: {reason}")]
    Poll { what: String, reason: String },
}

/// Backoff settings; the defaults suit AWS control planes.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    pub first: Duration,
    pub max: Duration,
    pub factor: f64,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            first: Duration::from_millis(500),
            max: Duration::from_secs(15),
            factor: 1.7,
        }
    }
}

/// Polls until ready. `on_pending` hears every pending state (for progress lines); `hint`
/// says what to do when time runs out.
pub async fn wait_until<T, F, Fut, E>(
    what: &str,
    timeout: Duration,
    backoff: Backoff,
    hint: &str,
    mut on_pending: impl FnMut(&str),
    mut poll: F,
) -> Result<T, WaitError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Poll<T>, E>>,
    E: std::fmt::Display,
{
    let started = Instant::now();
    let mut delay = backoff.first;
    loop {
        let last = match poll().await {
            Ok(Poll::Ready(v)) => return Ok(v),
            Ok(Poll::Failed(reason)) => {
                return Err(WaitError::Failed {
                    what: what.into(),
                    reason,
                })
            }
            Ok(Poll::Pending(state)) => state,
            Err(e) => {
                return Err(WaitError::Poll {
                    what: what.into(),
                    reason: e.to_string(),
                })
            }
        };
        on_pending(&last);
        let elapsed = started.elapsed();
        if elapsed >= timeout {
            return Err(WaitError::Timeout {
                what: what.into(),
                after: elapsed,
                last,
                hint: hint.into(),
            });
        }
        // Equal jitter: half the delay fixed, half random, so pollers don't move in lockstep.
        let jittered = delay.mul_f64(0.5 + fastrand::f64() * 0.5);
        tokio::time::sleep(jittered.min(timeout - elapsed)).await;
        delay = delay.mul_f64(backoff.factor).min(backoff.max);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    fn quick() -> Backoff {
        Backoff {
            first: Duration::from_millis(1),
            max: Duration::from_millis(4),
            factor: 2.0,
        }
    }

    #[tokio::test]
    async fn reaches_ready_after_pending_states() {
        let polls = Cell::new(0);
        let mut seen = Vec::new();
        let v = wait_until(
            "thing",
            Duration::from_secs(5),
            quick(),
            "",
            |s| seen.push(s.to_string()),
            || {
                polls.set(polls.get() + 1);
                let n = polls.get();
                async move {
                    Ok::<_, String>(if n < 3 {
                        Poll::Pending(format!("step {n}"))
                    } else {
                        Poll::Ready(n)
                    })
                }
            },
        )
        .await
        .unwrap();
        assert_eq!(v, 3);
        assert_eq!(seen, vec!["step 1", "step 2"]);
    }

    #[tokio::test]
    async fn times_out_with_the_last_state_and_hint() {
        let err = wait_until::<(), _, _, String>(
            "the NAT gateway",
            Duration::from_millis(20),
            quick(),
            "run down again",
            |_| {},
            || async { Ok(Poll::Pending("pending".into())) },
        )
        .await
        .unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("the NAT gateway")
                && text.contains("pending")
                && text.contains("run down again"),
            "{text}"
        );
    }

    #[tokio::test]
    async fn failure_states_end_the_wait() {
        let err = wait_until::<(), _, _, String>(
            "build",
            Duration::from_secs(5),
            quick(),
            "",
            |_| {},
            || async { Ok(Poll::Failed("Failed: bad slot".into())) },
        )
        .await
        .unwrap_err();
        assert!(matches!(err, WaitError::Failed { .. }));
    }
}
