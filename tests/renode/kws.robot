*** Comments ***
The firmware's bare-metal nRF52840 image on Renode's Arduino Nano 33 BLE. Run by tests/renode/test_renode.py
(which builds the image and prepares the audio), or directly:
renode-test tests/renode/kws.robot --variable ELF:... --variable REPL:... --variable WAV:... --variable DETECTION:...

*** Settings ***
Suite Setup         Setup
Suite Teardown      Teardown
Test Setup          Reset Emulation
Test Teardown       Test Teardown
Resource            ${RENODEKEYWORDS}

*** Variables ***
${UART}             sysbus.uart0

*** Keywords ***
Create Nano 33 BLE
    Execute Command         mach create "nano33ble"
    Execute Command         machine LoadPlatformDescription @${REPL}
    Execute Command         sysbus LoadELF @${ELF}
    Create Terminal Tester  ${UART}    timeout=120

*** Test Cases ***
Boots And Says Hello On UART0
    Create Nano 33 BLE
    Start Emulation
    Wait For Line On Uart   "type":"hello".*"board":"nrf52840".*"ready":true    treatAsRegex=true

Detects Keyword From The PDM Microphone
    Create Nano 33 BLE
    Execute Command         sysbus.pdm SetInputFile @${WAV}
    Start Emulation
    Wait For Line On Uart   "type":"detection",${DETECTION}    treatAsRegex=true

Malformed Serial Input Gets Errors And The Firmware Keeps Working
    Create Nano 33 BLE
    Start Emulation
    Wait For Line On Uart   "type":"hello"    treatAsRegex=true
    Write Line To Uart      garbage here    waitForEcho=false
    Wait For Line On Uart   "type":"error","msg":"unknown command"    treatAsRegex=true
    Write Line To Uart      audio 1 4 00000000 AAAAAAAAAAA=    waitForEcho=false
    Wait For Line On Uart   "type":"error"    treatAsRegex=true
    Write Line To Uart      threshold 200    waitForEcho=false
    Wait For Line On Uart   "cmd":"threshold","threshold":200    treatAsRegex=true
    Write Line To Uart      info    waitForEcho=false
    Wait For Line On Uart   "type":"hello".*"threshold":200    treatAsRegex=true

Counts Instructions Per Inference
    Create Nano 33 BLE
    Execute Command         sysbus.pdm SetInputFile @${WAV}
    Execute Command         python "import __builtin__; __builtin__.kws_counts = []"
    Execute Command         sysbus.cpu AddHook ${INFERENCE_BEGIN} "import __builtin__; __builtin__.kws_start = self.ExecutedInstructions"
    Execute Command         sysbus.cpu AddHook ${INFERENCE_END} "import __builtin__; __builtin__.kws_counts.append(int(self.ExecutedInstructions - __builtin__.kws_start))"
    Start Emulation
    Wait For Line On Uart   "type":"detection"    treatAsRegex=true
    Execute Command         pause
    Execute Command         python "import __builtin__, json; c = __builtin__.kws_counts; f = open(r'${BENCH}', 'w'); f.write(json.dumps({'inferences': len(c), 'instructions_per_inference': sum(c) // max(len(c), 1), 'instructions_per_inference_max': max(c or [0])})); f.close()"
