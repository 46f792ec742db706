"""The dataset card: the README.md compile writes beside a dataset's splits.

Its YAML header is the one the Hugging Face Hub reads (`configs` naming each split's file,
`dataset_info` with the features and `num_examples`, `license`), so a build directory loads
with `datasets.load_dataset(DIR)` under the same schema for every dataset; the body says what
compile checked and what decontamination found. Everything comes from the manifest: the card
is a view of it, never a second record of the build.
"""

from __future__ import annotations

from typing import Any

import yaml

from .record import FEATURES

UNKNOWN_LICENSE = "unknown"  # the Hub's id for a dataset that states none


def yaml_features(features: dict[str, Any] = FEATURES) -> list[dict[str, Any]]:
    """FEATURES (`datasets.Features.to_dict()` form) in the card's YAML list form."""
    return [{"name": name, **_yaml_type(f)} for name, f in features.items()]


def _yaml_type(feature: dict[str, Any]) -> dict[str, Any]:
    if feature["_type"] == "Value":
        return {"dtype": feature["dtype"]}
    inner = feature["feature"]  # a List
    if inner.get("_type") == "Value":
        return {"list": inner["dtype"]}
    return {"list": [{"name": k, **_yaml_type(v)} for k, v in inner.items()]}


def header(manifest: dict[str, Any]) -> dict[str, Any]:
    splits = manifest["splits"]
    return {
        "license": manifest["settings"].get("license") or UNKNOWN_LICENSE,
        "pretty_name": manifest["dataset"],
        "tags": ["synthetic", "tasklang"],
        "configs": [{"config_name": "default",
                     "data_files": [{"split": s, "path": v["file"]} for s, v in splits.items()]}],
        "dataset_info": {"config_name": "default", "features": yaml_features(),
                         "splits": [{"name": s, "num_examples": v["size"]} for s, v in splits.items()]},
    }


def dataset_card(manifest: dict[str, Any]) -> str:
    """The README.md of a build directory."""
    head = yaml.safe_dump(header(manifest), sort_keys=False, allow_unicode=True, width=1000)
    settings = manifest["settings"]
    lines = [f"---\n{head}---", "", f"# {manifest['dataset']}", "",
             f"Compiled by tasklang {manifest['version']} from `{manifest['source']}` "
             f"(seed {settings['seed']}). Every question was generated, its trace executed and "
             "its answer computed by the runtime; `manifest.json` holds the full build record.",
             *_overrides(manifest), "", "## Splits", "",
             "| split | examples | templates | leak redraws |", "|---|---|---|---|"]
    lines += [f"| {s} | {v['size']} | {v['templates']} | {v['leak_redraws']} |"
              for s, v in manifest["splits"].items()]
    lines += ["", "## Records", "",
              "One schema for every tasklang dataset, so that any of them concatenate. `payload` "
              "is the JSON text of the pattern's let values (keys in let order): payloads of "
              "different patterns have different keys, which a fixed struct column cannot hold. "
              "`constants`, `function` and `tests` are always present (empty or null where they "
              "do not apply). Grade a completion with `tasklang.score(completion, record)`.",
              "", "## Checks passed", "", *_checks(manifest), "", "## Decontamination", "",
              *_decontamination(manifest), ""]
    return "\n".join(lines)


def _overrides(manifest: dict[str, Any]) -> list[str]:
    given = manifest.get("overrides")
    if not given:
        return []
    shown = ", ".join(f"--size {k}={v}" for k, v in given.get("sizes", {}).items())
    if "seed" in given:
        shown = f"--seed {given['seed']}" + (f", {shown}" if shown else "")
    return ["", f"Built with command-line overrides: {shown}."]


def _checks(manifest: dict[str, Any]) -> list[str]:
    settings, counting = manifest["settings"], manifest["token_counting"]
    out = ["- every answer was computed, never copied: a trace answer by executing the gold trace, "
           "a code answer's reference by running it on the record's test cases (sandboxed);",
           "- no payload and no normalised question is shared by two splits (leak rule);",
           f"- no example is truncated: prompt + completion within max_length "
           f"{settings['max_length']}, completion within max_new_tokens {settings['max_new_tokens']} "
           f"({'exact counts' if counting['exact'] else 'an upper bound'}: {counting['method']});",
           f"- every pattern's rejection rate is within max_reject_rate {settings['max_reject_rate']} "
           "and its domain is large enough for the splits (preflight)."]
    if settings.get("unique_payloads"):
        out.append("- no payload repeats inside a split (`unique payloads`).")
    return out


def _decontamination(manifest: dict[str, Any]) -> list[str]:
    benchmarks = manifest.get("decontamination")
    if not benchmarks:
        return ["No benchmark was named: this build was not checked for contamination "
                "(`decontaminate FILE` in the dataset, or `compile --decontaminate FILE`)."]
    out = ["| benchmark | sha256 | n-gram | items | overlaps |", "|---|---|---|---|---|"]
    out += [f"| {b['file']} | {b['sha256'][:12]} | {b['ngram']} | {b['items']} | {b['overlaps']} |"
            for b in benchmarks]
    return [*out, "", "No question shares an n-gram with a benchmark item (a build with any "
            "overlap fails and writes nothing)."]
