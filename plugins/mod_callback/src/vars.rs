//! A call's channel variables as the dialplan applications see them: the FFI `Session`
//! implements it, unit tests use a map.

/// Read and write a call's channel variables.
pub trait ChannelVars {
    /// The call's uuid.
    fn uuid(&self) -> Option<String>;
    fn var(&self, name: &str) -> Option<String>;
    /// Sets (or, with `None`, unsets) a variable through the checked setter, which refuses
    /// values that would expand later; returns whether it was set.
    fn set_var(&self, name: &str, value: Option<&str>) -> bool;
}

#[cfg(test)]
pub(crate) mod testing {
    use super::ChannelVars;
    use std::cell::RefCell;
    use std::collections::BTreeMap;

    /// Channel variables in a map, for unit tests.
    #[derive(Default)]
    pub struct MapVars(pub RefCell<BTreeMap<String, String>>);

    impl MapVars {
        pub fn with(pairs: &[(&str, &str)]) -> Self {
            let v = MapVars::default();
            for (k, val) in pairs {
                v.0.borrow_mut().insert(k.to_string(), val.to_string());
            }
            v
        }
        pub fn get(&self, k: &str) -> Option<String> {
            self.0.borrow().get(k).cloned()
        }
    }

    impl ChannelVars for MapVars {
        fn uuid(&self) -> Option<String> {
            Some("0b6c7c1e-1111-4222-8333-444455556666".into())
        }
        fn var(&self, name: &str) -> Option<String> {
            self.get(name)
        }
        fn set_var(&self, name: &str, value: Option<&str>) -> bool {
            if value.is_some_and(|v| v.contains("${")) {
                return false;
            }
            let mut m = self.0.borrow_mut();
            match value {
                Some(v) => m.insert(name.to_string(), v.to_string()),
                None => m.remove(name),
            };
            true
        }
    }
}
