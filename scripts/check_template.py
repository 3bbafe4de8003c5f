"""Checks template.yaml the way CloudFormation will see it: the SAM transform is run offline
(samtranslator, with a fixed managed-policy list instead of an IAM call and placeholder code
locations), the result is written to target/template.json for tests/template.rs, and both the
transformed template and template.yaml are linted with cfn-lint. Exit 1 on any finding.

cfn-lint >= 1.58 no longer runs the SAM transform itself, so linting template.yaml alone misses
mistakes inside SAM resources (TOOLING.md); the transformed output is what must lint clean.
"""
import json
import os
import pathlib
import subprocess
import sys

from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse

ROOT = pathlib.Path(__file__).resolve().parent.parent
OUT = ROOT / "target" / "template.json"

# The only managed policy SAM attaches to these functions.
MANAGED = {
    "AWSLambdaBasicExecutionRole": "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
    "AWSLambdaRole": "arn:aws:iam::aws:policy/service-role/AWSLambdaRole",
}


# Parameter values the transform runs with, where the default would hide a mistake.
SAMPLES = {"AllowedOrigins": "https://app.example.com, https://admin.example.com"}


class StaticPolicies:
    def load(self):
        return MANAGED


def main() -> int:
    # The transform fills in pseudo parameters (AWS::Region) from the environment.
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    template = yaml_parse((ROOT / "template.yaml").read_text())
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::Serverless::Function":
            # What `sam build` substitutes: the built code's location.
            resource["Properties"]["CodeUri"] = "s3://placeholder-bucket/bootstrap.zip"
    # The values CloudFormation hands the SAM transform: a CommaDelimitedList as a list of
    # trimmed members. AllowedOrigins gets two origins (SAM writes them into the API's CORS
    # configuration; tests/template.rs checks they arrive as a list).
    parameters = {}
    for name, spec in template.get("Parameters", {}).items():
        value = SAMPLES.get(name, spec.get("Default", "placeholder"))
        if spec.get("Type") == "CommaDelimitedList":
            value = [member.strip() for member in value.split(",")]
        parameters[name] = value
    transformed = transform(template, parameters, StaticPolicies())
    # CloudFormation runs AWS::LanguageExtensions (the tables' DeletionPolicy from a parameter)
    # after the SAM transform here; cfn-lint resolves it when the template still names it.
    transforms = template.get("Transform", [])
    if "AWS::LanguageExtensions" in (transforms if isinstance(transforms, list) else [transforms]):
        transformed["Transform"] = "AWS::LanguageExtensions"
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text(json.dumps(transformed, indent=1, sort_keys=True))
    print(f"transformed template: {OUT}")
    lint = pathlib.Path(sys.executable).with_name("cfn-lint")
    failed = False
    for target in (OUT, ROOT / "template.yaml"):
        # I3011: a stateful resource without DeletionPolicy/UpdateReplacePolicy (data lost on a
        # stack deletion or a replacing change); informational by default, an error here.
        result = subprocess.run(
            [str(lint), "--format", "parseable", "--include-checks", "I3011", "--", str(target)],
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            failed = True
            print(f"cfn-lint {target.name}: exit {result.returncode}\n{result.stdout}{result.stderr}")
        else:
            print(f"cfn-lint {target.name}: clean")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
