//! `[bill]`: the node shape and price (`capacity::bill::NodeShape`).

use super::Resolver;
use crate::capacity::bill::NodeShape;
use crate::config::{ranges, raw};

impl Resolver {
    pub(super) fn bill(&mut self, raw: &raw::RawBill) -> Option<NodeShape> {
        let mut ok = true;
        let mut number = |value: &Option<toml::Spanned<f64>>, key| match value {
            None => None,
            Some(v) => {
                let checked = self.number(v, key);
                ok &= checked.is_some();
                checked
            }
        };
        let cores = number(&raw.node_cores, &ranges::NODE_CORES);
        let memory_gib = number(&raw.node_memory_gib, &ranges::NODE_MEMORY_GIB);
        let price_per_hour = number(&raw.price_per_hour, &ranges::PRICE_PER_HOUR);
        if price_per_hour.is_some() && (cores.is_none() || memory_gib.is_none()) {
            let span = raw.price_per_hour.as_ref().expect("checked").span();
            self.error(
                span,
                "bill.price_per_hour needs bill.node_cores and bill.node_memory_gib: the price is per node, and the mesh's share of a node is its share of the node's cores or memory",
            );
            ok = false;
        }
        ok.then(|| NodeShape {
            cores,
            memory_bytes: memory_gib.map(|g| g * 1024.0 * 1024.0 * 1024.0),
            price_per_hour,
            currency: raw.currency.as_ref().map_or_else(
                || NodeShape::DEFAULT_CURRENCY.to_string(),
                |c| c.get_ref().clone(),
            ),
        })
    }
}
