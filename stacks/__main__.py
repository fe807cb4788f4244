"""The Pulumi program of every stack: stack config -> deployment -> stack outputs.

A stack deploys a service (`GpuInferenceCluster`), a standby of another stack's service
(`WarmStandby`) or an edge deployment of it (`EdgeDeployment`), and may own the service's
public name (`TrafficRouter`). `pulumi up -s STACK` runs this with real providers;
`exitplan plan STACK` runs it unchanged under Pulumi's mocks.
"""

from pathlib import Path

import pulumi

from components.deployment import deploy_stack, program_config
from components.stack_config import Project, Stack, find_project

project = Project(find_project(Path(__file__).parent))
name = pulumi.get_stack()
for output, value in deploy_stack(
    Stack(project, name, project.stack_file(name), program_config())
).items():
    pulumi.export(output, value)
