//! Events against `events/schemas`, with the `jsonschema` crate (draft 2020-12; `format` is
//! asserted, so an `occurred_at` that is not a date-time fails).

use serde_json::Value;

/// Validates `instance` against `schema`; returns every violation with its JSON path.
pub fn validate(schema: &Value, instance: &Value) -> Result<(), Vec<String>> {
    let validator = jsonschema::draft202012::options()
        .should_validate_formats(true)
        .build(schema)
        .map_err(|e| vec![format!("the schema itself is invalid: {e}")])?;
    let errors: Vec<String> = validator
        .iter_errors(instance)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}
