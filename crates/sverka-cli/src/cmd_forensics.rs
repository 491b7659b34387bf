//! `sverka forensics DIR [--format json|csv|svg|png] [--out FILE]`: statistical anomaly flags on
//! the station-level results of the latest checkpoint (replayed from the log by the same function
//! as `sverka results`), computed by `sverka_audit::forensics`. JSON is `sverka-forensics/v1`
//! (docs/formats.md); CSV the ranked list of flagged stations with their reason codes; SVG and PNG
//! the turnout × leader-share fingerprint. Flags are for human review, never proof.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use sverka_audit::forensics::{self, analyse, raster, svg, CheckpointRef, Config, Input};
use sverka_store::Store;
use sverka_tally::tabulate::View;

#[derive(Clone, Copy, clap::ValueEnum)]
enum Format {
    Json,
    Csv,
    Svg,
    Png,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum ViewArg {
    /// Recount, else hand count: the result with legal force
    Official,
    /// Recount, else hand count, else scanner: election night's best estimate
    Preliminary,
}

#[derive(clap::Args)]
pub struct Args {
    /// The data directory
    dir: PathBuf,
    /// Output format
    #[arg(long, value_enum, default_value = "json")]
    format: Format,
    /// Write to this file instead of standard output (required for png)
    #[arg(long)]
    out: Option<PathBuf>,
    /// The contest to analyse (default: the first party-list contest, else the first contest)
    #[arg(long)]
    contest: Option<String>,
    /// Which protocol of each station is analysed
    #[arg(long, value_enum, default_value = "preliminary")]
    view: ViewArg,
    /// Seed of every simulation (written in the JSON)
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Simulated data sets per null distribution
    #[arg(long, default_value_t = 1000)]
    simulations: u32,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    if matches!(args.format, Format::Png) && args.out.is_none() {
        eprintln!("sverka forensics: --format png needs --out FILE (PNG is binary)");
        return Ok(ExitCode::from(2));
    }
    let store = Store::open_read_only(&args.dir)
        .with_context(|| format!("opening {}", args.dir.display()))?;
    let checkpoint = store.checkpoint().context("reading the latest signed checkpoint")?;
    let replay =
        sverka_store::snapshot::replay_to(&store, checkpoint.size).context("replaying the log")?;
    let election = replay.election();
    let contest = match &args.contest {
        Some(id) => id.clone(),
        None => default_contest(election).context("the election has no contest")?,
    };
    let view = match args.view {
        ViewArg::Official => View::Official,
        ViewArg::Preliminary => View::Preliminary,
    };
    let input = Input::from_tally(election, replay.tally(), &contest, view)
        .with_context(|| format!("contest {contest:?}"))?;
    let config = Config { seed: args.seed, simulations: args.simulations, ..Config::default() };
    let mut report = analyse(&input, &config).with_context(|| format!("contest {contest:?}"))?;
    report.checkpoint =
        Some(CheckpointRef { size: checkpoint.size, root: checkpoint.root.to_base64() });
    let output: Vec<u8> = match args.format {
        Format::Json => report.to_json().into_bytes(),
        Format::Csv => report.to_csv().into_bytes(),
        Format::Svg => {
            let labels = svg::Labels::english(&report.leader);
            svg::fingerprint_svg(&report.fingerprint, &labels).into_bytes()
        }
        Format::Png => encode_png(&raster::fingerprint_image(&report.fingerprint, 6))?,
    };
    let flagged = report.flagged.len();
    let Some(path) = &args.out else {
        let mut stdout = std::io::stdout().lock();
        let written = stdout.write_all(&output).and_then(|()| stdout.flush());
        return crate::stdout_exit_code(written).context("writing the report");
    };
    std::fs::write(path, &output).with_context(|| format!("writing {}", path.display()))?;
    eprintln!(
        "{} stations of contest {contest:?} analysed at checkpoint {}: {flagged} listed for human review (never proof); written to {}",
        report.stations,
        checkpoint.size,
        path.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// The first party-list contest, else the first contest.
fn default_contest(election: &sverka_model::election::Election) -> Option<String> {
    let list = election
        .contests
        .iter()
        .find(|c| matches!(c.kind, sverka_model::election::ContestKind::PartyList(_)));
    list.or(election.contests.first()).map(|c| c.id.clone())
}

fn encode_png(image: &forensics::raster::Image) -> anyhow::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    let mut encoder = png::Encoder::new(&mut bytes, image.width, image.height);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().context("encoding the PNG")?;
    writer.write_image_data(&image.rgb).context("encoding the PNG")?;
    writer.finish().context("encoding the PNG")?;
    Ok(bytes)
}
