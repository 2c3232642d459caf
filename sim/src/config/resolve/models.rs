//! `[models]`: a known profile, then overrides of known parameters, each 0 or more.

use super::Resolver;
use crate::config::raw;
use crate::cost_model::{ranges, Catalog, ModelSet, ParamValues};

impl Resolver {
    pub(super) fn models(
        &mut self,
        raw: &raw::RawModels,
        catalog: &Catalog,
    ) -> Option<(ModelSet, ParamValues)> {
        let mut values = catalog.values();
        let mut ok = true;
        let profile = raw.profile.as_ref().and_then(|p| {
            if catalog.profile(p.get_ref()).is_some() {
                catalog.apply_profile(&mut values, p.get_ref());
                Some(p.get_ref().clone())
            } else {
                let known: Vec<&str> = catalog.profiles.iter().map(|p| p.name.as_str()).collect();
                self.error(
                    p.span(),
                    format!(
                        "unknown profile `{}`; known profiles: {}",
                        p.get_ref(),
                        known.join(", ")
                    ),
                );
                ok = false;
                None
            }
        });
        let origin = format!("overridden in {}", self.file().display());
        for (component, overrides) in raw.overrides() {
            let params = values.get_mut(component).expect("known component");
            for (name, value) in overrides {
                let Some(slot) = params.get_mut(name.get_ref()) else {
                    let known: Vec<&str> = params.keys().map(String::as_str).collect();
                    let message = format!(
                        "`{}` is not a parameter of the {component} model; it has: {}",
                        name.get_ref(),
                        known.join(", ")
                    );
                    self.error(name.span(), message);
                    ok = false;
                    continue;
                };
                let v = *value.get_ref();
                let range =
                    ranges::of(name.get_ref()).expect("the catalog gives every parameter a range");
                if !range.contains(v) {
                    let message = format!(
                        "models.{component}.{} must be {} {range} ({}), not {}",
                        name.get_ref(),
                        if range.integer { "an" } else { "a" },
                        slot.unit,
                        crate::value_range::shown(v)
                    );
                    self.error(value.span(), message);
                    ok = false;
                    continue;
                }
                slot.value = v;
                slot.source = origin.clone();
            }
        }
        if !ok {
            return None;
        }
        match ModelSet::from_values(&values, profile) {
            Ok(set) => Some((set, values)),
            Err(e) => {
                self.file_error(e.to_string());
                None
            }
        }
    }
}
