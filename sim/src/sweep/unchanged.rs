//! A sweep whose parameter changes nothing: every value resolves to the same scenario. The
//! usual cause is a default that every entry overrides (`traffic.rps_per_pod` when every
//! `[[service]]` sets its own `rps_per_pod`); the message names those entries and the key to
//! sweep instead.

/// `[traffic]` keys that a `[[service]]` may set for itself.
const SERVICE_OVERRIDES: [&str; 2] = ["rps_per_pod", "app_time_us"];

/// Why sweeping `key` over `values` changed nothing, for the file `text`.
pub fn explain(text: &str, key: &[String], values: &[toml::Value]) -> String {
    let whole = key.join(".");
    let shown: Vec<String> = values.iter().take(6).map(|v| v.to_string()).collect();
    let head = format!(
        "--param {whole}: every value ({}{}) gives the same scenario, so the sweep would measure nothing",
        shown.join(", "),
        if values.len() > shown.len() { ", …" } else { "" }
    );
    if let Some(why) = overridden(text, key) {
        return format!("{head}: {why}");
    }
    format!(
        "{head}: nothing the model uses depends on it here (an option of an architecture not among mesh.architectures, or a value every entry overrides)"
    )
}

/// The entries that override `key` everywhere, if any.
fn overridden(text: &str, key: &[String]) -> Option<String> {
    if key.len() == 3 && key[0] == "mesh" && key[1] == "uproxy" {
        return Some("it is an option of uproxy, which is not among mesh.architectures".into());
    }
    let file: toml::Table = toml::from_str(text).ok()?;
    // With request types, a rate key is refused by the checks of the file itself (every
    // service's rate follows from the types), before the sweep compares anything.
    let [section, name] = key else { return None };
    if section != "traffic" || !SERVICE_OVERRIDES.contains(&name.as_str()) {
        return None;
    }
    let services = file.get("service")?.as_array()?;
    let setting: Vec<&str> = services
        .iter()
        .filter(|s| s.get(name.as_str()).is_some())
        .filter_map(|s| s.get("name")?.as_str())
        .collect();
    if services.is_empty() || setting.len() < services.len() {
        return None;
    }
    let listed: Vec<&str> = setting.iter().take(8).copied().collect();
    let first = listed[0];
    let also_scale = if name == "rps_per_pod" {
        ", or traffic.scale to multiply every rate"
    } else {
        ""
    };
    Some(format!(
        "every [[service]] sets its own {name} ({}{}), which overrides traffic.{name}: sweep service.NAME.{name} for one service (service.{first}.{name}){also_scale}",
        listed.join(", "),
        if setting.len() > listed.len() { ", …" } else { "" }
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_services_that_override_the_default() {
        let text = "[[service]]\nname = \"a\"\nrps_per_pod = 3\n[[service]]\nname = \"b\"\nrps_per_pod = 4\n";
        let key = ["traffic".to_string(), "rps_per_pod".to_string()];
        let why = explain(
            text,
            &key,
            &[toml::Value::Integer(1), toml::Value::Integer(2)],
        );
        assert!(
            why.contains("every [[service]] sets its own rps_per_pod (a, b)"),
            "{why}"
        );
        assert!(
            why.contains("service.a.rps_per_pod") && why.contains("traffic.scale"),
            "{why}"
        );
        // One service left to the default: the default still matters, no override to name.
        let text = "[[service]]\nname = \"a\"\nrps_per_pod = 3\n[[service]]\nname = \"b\"\n";
        let why = explain(text, &key, &[toml::Value::Integer(1)]);
        assert!(why.contains("nothing the model uses"), "{why}");
    }
}
