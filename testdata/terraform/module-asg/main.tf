terraform {
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.0"
    }
  }
}

provider "aws" {
  region = "eu-west-1"
}

# One Auto Scaling group per search cluster.
module "asg" {
  source   = "./modules/asg"
  for_each = { search = 3 }

  name = "${each.key}-prod"
  size = each.value
}
