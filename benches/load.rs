//! Startup cost of the full table: parsing and merging the compiled-in data, then indexing it.

use criterion::{Criterion, criterion_group, criterion_main};
use portsd::core::table::Table;
use portsd::sources::load_builtin;

fn load_and_index(c: &mut Criterion) {
    c.bench_function("load_builtin + Table::new", |b| {
        b.iter(|| {
            let loaded = load_builtin().expect("built-in data loads");
            Table::new(loaded.entries)
        })
    });
}

criterion_group!(benches, load_and_index);
criterion_main!(benches);
