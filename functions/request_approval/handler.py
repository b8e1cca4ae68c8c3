"""Lambda handler: state-machine task request-approval — stores the task token, notifies the approvers (.waitForTaskToken) (marketing.app). Wiring only."""
from marketing import resources
from marketing.app.lambda_handler import task_handler
from marketing.app.lifecycle_wiring import build_request_approval
from marketing.settings import configured

handler = task_handler(configured(resources.REQUEST_APPROVAL, build_request_approval))
