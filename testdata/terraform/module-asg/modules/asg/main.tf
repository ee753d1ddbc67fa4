variable "name" {
  type = string
}

variable "size" {
  type = number
}

resource "aws_launch_template" "node" {
  name_prefix   = var.name
  image_id      = "ami-0c1a2b3c4d5e6f708"
  instance_type = "r6g.large"
}

resource "aws_autoscaling_group" "this" {
  count = 1

  name                = var.name
  min_size            = 3
  max_size            = 9
  desired_capacity    = var.size
  vpc_zone_identifier = ["subnet-0a1", "subnet-0b2", "subnet-0c3"]

  launch_template {
    id      = aws_launch_template.node.id
    version = "$Latest"
  }
}
