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
Library             OperatingSystem
Library             String

*** Variables ***
${UART}             sysbus.uart0
${CHAR_TIME}        0.0000868    # seconds per character on the wire: 115200 baud, 10 bits a character

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

Serial Audio Frames Give The TFLM Golden Scores And The Same Detection
    Create Nano 33 BLE
    Execute Command         ${UART} CreateFileBackend @${UART_LOG} true
    Write Char Delay        ${CHAR_TIME}
    Start Emulation
    Wait For Line On Uart   "type":"hello"    treatAsRegex=true
    Write Line To Uart      scores on    waitForEcho=false
    Wait For Line On Uart   "cmd":"scores","on":true    treatAsRegex=true
    ${text}=                Get File    ${FRAMES}
    @{frames}=              Split To Lines    ${text}
    FOR    ${seq}    ${frame}    IN ENUMERATE    @{frames}
        Write Line To Uart      ${frame}    waitForEcho=false
        Wait For Line On Uart   "cmd":"audio","seq":${seq},    treatAsRegex=true
    END
    ${log}=                 Get File    ${UART_LOG}
    Should Not Contain      ${log}    "type":"error"
    Should Match Regexp     ${log}    "type":"detection",${DETECTION}
    ${text}=                Get File    ${GOLDEN}
    @{golden}=              Split To Lines    ${text}
    ${count}=               Get Count    ${log}    "type":"scores"
    Length Should Be        ${golden}    ${count}
    FOR    ${scores}    IN    @{golden}
        Should Contain          ${log}    ${scores}
    END

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
