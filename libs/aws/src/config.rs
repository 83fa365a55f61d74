//! Configuration from the environment, read once at cold start. A missing or malformed
//! variable is a typed error naming it, so the function fails its init loudly instead of
//! failing every request.

use std::str::FromStr;

/// A configuration problem, naming the variable.
#[derive(Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("environment variable {0} is required but not set")]
    Missing(&'static str),
    #[error("environment variable {name} has an invalid value {value:?}: {reason}")]
    Invalid {
        name: &'static str,
        value: String,
        reason: String,
    },
}

// `main` returning this error prints it with Debug at init: make that the readable message.
impl std::fmt::Debug for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

/// Reads variables through a lookup function (the process environment in production, a
/// map in tests).
pub struct Env<F: Fn(&str) -> Option<String>>(pub F);

/// The process environment's reader.
pub type ProcessEnv = Env<fn(&str) -> Option<String>>;

/// The process environment.
pub fn process_env() -> ProcessEnv {
    Env(|name: &str| std::env::var(name).ok())
}

impl<F: Fn(&str) -> Option<String>> Env<F> {
    /// A required, non-empty variable.
    pub fn required(&self, name: &'static str) -> Result<String, ConfigError> {
        match (self.0)(name) {
            Some(v) if !v.trim().is_empty() => Ok(v),
            _ => Err(ConfigError::Missing(name)),
        }
    }

    /// An optional variable parsed as `T`, `default` when unset or empty.
    pub fn parse_or<T>(&self, name: &'static str, default: T) -> Result<T, ConfigError>
    where
        T: FromStr,
        T::Err: std::fmt::Display,
    {
        match (self.0)(name) {
            Some(v) if !v.trim().is_empty() => {
                v.trim().parse().map_err(|e: T::Err| ConfigError::Invalid {
                    name,
                    value: v.clone(),
                    reason: e.to_string(),
                })
            }
            _ => Ok(default),
        }
    }

    /// `BATCH_CONCURRENCY` (default 8, 1..=100).
    pub fn batch_concurrency(&self) -> Result<usize, ConfigError> {
        let n: usize = self.parse_or("BATCH_CONCURRENCY", 8)?;
        if (1..=100).contains(&n) {
            Ok(n)
        } else {
            Err(ConfigError::Invalid {
                name: "BATCH_CONCURRENCY",
                value: n.to_string(),
                reason: "must be from 1 to 100".into(),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> Env<impl Fn(&str) -> Option<String>> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Env(move |k: &str| map.get(k).cloned())
    }

    #[test]
    fn required_names_the_missing_variable() {
        let e = env(&[("ORDERS_TABLE", "orders"), ("EMPTY", " ")]);
        assert_eq!(e.required("ORDERS_TABLE").unwrap(), "orders");
        assert_eq!(
            e.required("PRODUCTS_TABLE"),
            Err(ConfigError::Missing("PRODUCTS_TABLE"))
        );
        assert_eq!(e.required("EMPTY"), Err(ConfigError::Missing("EMPTY")));
        assert!(ConfigError::Missing("X").to_string().contains("X"));
    }

    #[test]
    fn parse_or_defaults_and_rejects_garbage() {
        let e = env(&[("N", "12"), ("BAD", "twelve")]);
        assert_eq!(e.parse_or("N", 1u64).unwrap(), 12);
        assert_eq!(e.parse_or("UNSET", 60u64).unwrap(), 60);
        assert!(matches!(
            e.parse_or("BAD", 1u64),
            Err(ConfigError::Invalid { name: "BAD", .. })
        ));
    }

    #[test]
    fn batch_concurrency_bounds() {
        assert_eq!(env(&[]).batch_concurrency().unwrap(), 8);
        assert_eq!(
            env(&[("BATCH_CONCURRENCY", "3")])
                .batch_concurrency()
                .unwrap(),
            3
        );
        assert!(env(&[("BATCH_CONCURRENCY", "0")])
            .batch_concurrency()
            .is_err());
        assert!(env(&[("BATCH_CONCURRENCY", "1000")])
            .batch_concurrency()
            .is_err());
    }
}
