//! A small command-line parser: `--key value` options, `--flag` switches, positionals.

use anyhow::{Result, bail};

/// Arguments left to consume.
pub struct Args {
    items: Vec<String>,
}

impl Args {
    /// Wraps the arguments after the subcommand.
    pub fn new(items: Vec<String>) -> Self {
        Args { items }
    }

    /// Takes `--name VALUE` (or `--name=VALUE`) if present.
    pub fn opt(&mut self, name: &str) -> Result<Option<String>> {
        let eq = format!("{name}=");
        if let Some(pos) = self
            .items
            .iter()
            .position(|a| a == name || a.starts_with(&eq))
        {
            let item = self.items.remove(pos);
            if let Some(v) = item.strip_prefix(&eq) {
                return Ok(Some(v.to_string()));
            }
            if pos >= self.items.len() || self.items[pos].starts_with("--") {
                bail!("option {name} needs a value");
            }
            return Ok(Some(self.items.remove(pos)));
        }
        Ok(None)
    }

    /// Takes a required `--name VALUE`.
    pub fn req(&mut self, name: &str) -> Result<String> {
        match self.opt(name)? {
            Some(v) => Ok(v),
            None => bail!("missing required option {name}"),
        }
    }

    /// Takes and parses `--name VALUE`.
    pub fn parsed<T: std::str::FromStr>(&mut self, name: &str) -> Result<Option<T>> {
        match self.opt(name)? {
            Some(v) => match v.parse::<T>() {
                Ok(x) => Ok(Some(x)),
                Err(_) => bail!("option {name}: cannot read '{v}' as a number"),
            },
            None => Ok(None),
        }
    }

    /// Takes `--name` if present.
    pub fn flag(&mut self, name: &str) -> bool {
        if let Some(pos) = self.items.iter().position(|a| a == name) {
            self.items.remove(pos);
            true
        } else {
            false
        }
    }

    /// Takes the next positional argument.
    pub fn positional(&mut self) -> Option<String> {
        let pos = self.items.iter().position(|a| !a.starts_with("--"))?;
        Some(self.items.remove(pos))
    }

    /// The arguments not taken yet.
    pub fn into_rest(self) -> Vec<String> {
        self.items
    }

    /// Fails on anything left over.
    pub fn finish(self) -> Result<()> {
        if let Some(first) = self.items.first() {
            bail!("unexpected argument '{first}' (see `sliceplan help`)");
        }
        Ok(())
    }
}
