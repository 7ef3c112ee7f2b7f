//! The kernel's own magics in a cell, read once into a [`CellPlan`]:
//! `:timeline` (as the first line), `:restart` and `:clear`, and the one
//! evcxr command this kernel refuses (`:allow_static_linking 0`). evcxr's
//! other `:` commands pass through untouched; `:doc` is the dispatcher's.

/// What the engine does for a cell, besides compiling and running its code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CellPlan {
    /// The code to hand to evcxr: the cell with the lines of the magics the
    /// kernel carries out itself blanked, so line numbers in errors still match.
    pub code: String,
    /// `:timeline` first: record the cell and draw it.
    pub timeline: bool,
    /// `:restart`: a new runtime (variables go, items stay) before the code.
    pub restart: bool,
    /// `:clear` (evcxr's, kept in `code`): every item, `use` line and
    /// `:dep` goes, the prelude's too, so it must be loaded again.
    pub clear: bool,
    /// A magic this kernel cannot carry out, and why: the cell is refused.
    pub refused: Option<&'static str>,
}

/// Why `:allow_static_linking 0` is refused.
pub const NO_DYNAMIC_LINKING: &str = "`:allow_static_linking 0` is not available in this kernel: \
     evcxr would then build every dependency as a dynamic library, and the prelude's \
     dependencies include `no_std` crates, which cannot be built that way, so no cell would \
     compile again. Dependencies stay statically linked: a `static` inside a `:dep` crate has \
     a copy in each cell; keep shared state in a variable instead.";

/// Reads the kernel's magics in `code`.
pub fn plan(code: &str) -> CellPlan {
    let mut plan = CellPlan {
        code: String::with_capacity(code.len()),
        timeline: false,
        restart: false,
        clear: false,
        refused: None,
    };
    for (index, line) in code.split('\n').enumerate() {
        if index > 0 {
            plan.code.push('\n');
        }
        match line.trim() {
            ":timeline" if index == 0 => plan.timeline = true,
            ":restart" => plan.restart = true,
            ":clear" => {
                plan.clear = true;
                plan.code.push_str(line);
            }
            ":allow_static_linking 0" => plan.refused = Some(NO_DYNAMIC_LINKING),
            _ => plan.code.push_str(line),
        }
    }
    plan
}

impl CellPlan {
    /// Whether nothing is left to compile once the kernel's magics are done.
    pub fn code_is_blank(&self) -> bool {
        self.code.trim().is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn magics_are_read_and_their_lines_blanked() {
        let timeline = plan(":timeline\nsleep(0.1);");
        assert!(timeline.timeline && !timeline.restart && !timeline.clear);
        assert_eq!(timeline.code, "\nsleep(0.1);");
        assert!(plan("  :timeline  ").timeline);
        // Only a first line arms the timeline.
        let late = plan("sleep(0.1);\n:timeline");
        assert!(!late.timeline);
        assert_eq!(late.code, "sleep(0.1);\n:timeline");

        let restart = plan(":restart\nlet a = 1;");
        assert!(restart.restart);
        assert_eq!(restart.code, "\nlet a = 1;");
        assert!(plan(":restart").code_is_blank());

        let clear = plan(":clear");
        assert!(clear.clear);
        assert_eq!(clear.code, ":clear", "evcxr carries out :clear itself");
        assert!(!plan("let clear = 1;").clear);
        assert_eq!(
            plan(":allow_static_linking 0").refused,
            Some(NO_DYNAMIC_LINKING)
        );
        assert_eq!(plan(":allow_static_linking 1").refused, None);
    }
}
