//! Enums with one spelling everywhere. Every settings enum derives `serde` and
//! `clap::ValueEnum` with the same names (`rename_all` on both); [`cli_enum!`] then gives it
//! `Display` and `FromStr` in that spelling, so configs, command lines, logs and reports all say
//! `lowest_id`, never `LowestId` or `Some(..)`. Aliases (`lowest-id`) are accepted on input only.

/// Implements `Display` and `FromStr` for `clap::ValueEnum` types with their value names:
/// `cli_enum!(TiePolicy => "tie policy", Metric => "metric");`.
#[macro_export]
macro_rules! cli_enum {
    ($($t:ty => $what:literal),+ $(,)?) => {$(
        impl ::std::fmt::Display for $t {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                let v = ::clap::ValueEnum::to_possible_value(self).expect("every variant has a value name");
                f.write_str(v.get_name())
            }
        }
        impl ::std::str::FromStr for $t {
            type Err = $crate::Error;
            fn from_str(s: &str) -> ::std::result::Result<Self, $crate::Error> {
                <$t as ::clap::ValueEnum>::from_str(s, false).map_err(|_| {
                    let variants = <$t as ::clap::ValueEnum>::value_variants();
                    let names: ::std::vec::Vec<::std::string::String> = variants
                        .iter()
                        .filter_map(::clap::ValueEnum::to_possible_value)
                        .map(|p| p.get_name().to_string())
                        .collect();
                    $crate::Error::Config(format!("unknown {} `{s}` (expected {})", $what, names.join(", ")))
                })
            }
        }
    )+};
}

#[cfg(test)]
mod tests {
    use crate::label_model::{TiePolicy, UncoveredPolicy};
    use crate::metrics::Metric;

    #[test]
    fn one_spelling_in_configs_command_lines_and_logs() {
        assert_eq!(TiePolicy::LowestId.to_string(), "lowest_id");
        assert_eq!(serde_json::to_string(&TiePolicy::LowestId).unwrap(), "\"lowest_id\"");
        assert_eq!("lowest-id".parse::<TiePolicy>().unwrap(), TiePolicy::LowestId, "an accepted alias");
        assert_eq!(format!("{}", UncoveredPolicy::Model), "model");
        assert_eq!(Metric::BinaryF1.to_string(), "binary_f1");
        let e = "f2".parse::<Metric>().unwrap_err().to_string();
        assert!(e.contains("unknown metric `f2`") && e.contains("accuracy, binary_f1, macro_f1"), "{e}");
    }
}
