"""Sets up Auto Scaling state in a moto server for the --observe aws and gate tests.

usage: world.py PORT COMMAND [ARGS...]; prints JSON (instance ids) on stdout.
  group NAME DESIRED              launch template + group with DESIRED instances
  standby NAME ID                 put an instance in Standby (desired decremented)
  unhealthy ID                    mark an instance Unhealthy
  terminate ID [decrement]        terminate an instance in its group
  desired NAME N                  set the group's desired capacity
  instances NAME                  the group's instances with their states
  run-instances NAME N            N plain EC2 instances (no group) tagged Name=NAME-<i>
  stop ID [ID...]                 stop these EC2 instances
"""
import json
import sys

import boto3

port, command, args = sys.argv[1], sys.argv[2], sys.argv[3:]
kw = dict(
    endpoint_url=f"http://127.0.0.1:{port}",
    region_name="eu-west-1",
    aws_access_key_id="testing",
    aws_secret_access_key="testing",
)
asg = boto3.client("autoscaling", **kw)
ec2 = boto3.client("ec2", **kw)


def instances(name):
    g = asg.describe_auto_scaling_groups(AutoScalingGroupNames=[name])["AutoScalingGroups"][0]
    return [
        {"id": i["InstanceId"], "state": i["LifecycleState"], "health": i["HealthStatus"]}
        for i in g["Instances"]
    ]


if command == "group":
    name, desired = args[0], int(args[1])
    ami = ec2.describe_images()["Images"][0]["ImageId"]
    lt = f"{name}-node"
    if not ec2.describe_launch_templates(Filters=[{"Name": "launch-template-name", "Values": [lt]}])["LaunchTemplates"]:
        ec2.create_launch_template(
            LaunchTemplateName=lt,
            LaunchTemplateData={"ImageId": ami, "InstanceType": "t3.micro"},
        )
    asg.create_auto_scaling_group(
        AutoScalingGroupName=name,
        LaunchTemplate={"LaunchTemplateName": lt, "Version": "$Latest"},
        MinSize=0,
        MaxSize=9,
        DesiredCapacity=desired,
        AvailabilityZones=["eu-west-1a", "eu-west-1b", "eu-west-1c"],
        Tags=[{"Key": "service", "Value": name, "PropagateAtLaunch": True}],
    )
    print(json.dumps(instances(name)))
elif command == "standby":
    asg.enter_standby(
        AutoScalingGroupName=args[0], InstanceIds=[args[1]], ShouldDecrementDesiredCapacity=True
    )
    print(json.dumps(instances(args[0])))
elif command == "unhealthy":
    asg.set_instance_health(InstanceId=args[0], HealthStatus="Unhealthy")
    print("{}")
elif command == "terminate":
    asg.terminate_instance_in_auto_scaling_group(
        InstanceId=args[0], ShouldDecrementDesiredCapacity=len(args) > 1 and args[1] == "decrement"
    )
    print("{}")
elif command == "desired":
    asg.set_desired_capacity(AutoScalingGroupName=args[0], DesiredCapacity=int(args[1]))
    print(json.dumps(instances(args[0])))
elif command == "instances":
    print(json.dumps(instances(args[0])))
elif command == "run-instances":
    name, n = args[0], int(args[1])
    ami = ec2.describe_images()["Images"][0]["ImageId"]
    ids = []
    for i in range(n):
        r = ec2.run_instances(
            ImageId=ami,
            InstanceType="t3.micro",
            MinCount=1,
            MaxCount=1,
            TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": f"{name}-{i}"}]}],
        )
        ids.append(r["Instances"][0]["InstanceId"])
    print(json.dumps(ids))
elif command == "stop":
    ec2.stop_instances(InstanceIds=args)
    print("{}")
else:
    sys.exit(f"unknown command {command}")
